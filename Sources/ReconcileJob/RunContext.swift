import Logging

/// The run a log line belongs to, carried by the task: every line logged while a run is under way
/// gets `run` and `tenant`, whichever logger logs it.
public enum RunContext {
    @TaskLocal public static var runID: Int64?
    @TaskLocal public static var tenant: String?

    /// Adds `run` and `tenant` to every line logged inside a run.
    public static let metadataProvider = Logger.MetadataProvider {
        var metadata: Logger.Metadata = [:]
        if let runID { metadata["run"] = "\(runID)" }
        if let tenant { metadata["tenant"] = "\(tenant)" }
        return metadata
    }
}
