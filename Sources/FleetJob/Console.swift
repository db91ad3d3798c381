import ReconcileJob

/// Where a job's words go: the command line gives its streams (redacting every known secret), a
/// test gives a buffer. The fleet prints through it and nothing else.
public struct Console: Sendable {
    /// A summary line: on stdout, or on stderr when stdout carries a report (`toError`).
    public var write: @Sendable (_ text: String, _ toError: Bool) throws -> Void
    /// An error or a warning for a person, on stderr.
    public var error: @Sendable (String) -> Void
    /// A transient line on a terminal (deliveries so far); nothing elsewhere.
    public var status: @Sendable (String) -> Void
    /// A progress reporter for one run (update, finish), when there is a terminal to show it.
    public var runProgress: @Sendable () -> (update: @Sendable (RunProgress) -> Void, finish: @Sendable () -> Void)?
    /// Makes a secret known, so nothing printed or logged shows it.
    public var secret: @Sendable (String?) -> Void
    /// Text with every known secret taken out: what a run records of an error.
    public var redact: @Sendable (String) -> String

    public init(
        write: @escaping @Sendable (String, Bool) throws -> Void, error: @escaping @Sendable (String) -> Void,
        status: @escaping @Sendable (String) -> Void = { _ in },
        runProgress: @escaping @Sendable () -> (update: @Sendable (RunProgress) -> Void, finish: @Sendable () -> Void)? = { nil },
        secret: @escaping @Sendable (String?) -> Void = { _ in }, redact: @escaping @Sendable (String) -> String = { $0 }
    ) {
        self.write = write
        self.error = error
        self.status = status
        self.runProgress = runProgress
        self.secret = secret
        self.redact = redact
    }
}

/// A signal that stopped the work: its name for the record, its exit code for the process.
public struct Stop: Sendable, Equatable {
    public var name: String
    public var exitCode: Int32

    public init(name: String, exitCode: Int32) {
        self.name = name
        self.exitCode = exitCode
    }
}
