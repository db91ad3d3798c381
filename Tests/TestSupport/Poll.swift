/// A condition a test waited for that did not come in time.
public struct PollTimeout: Error, CustomStringConvertible {
    public var condition: String
    public var timeout: Duration
    public var description: String { "waited \(timeout) for \(condition); it never came" }
}

/// Waits until `condition` holds, looking every `interval`; throws ``PollTimeout`` after
/// `timeout`, so a test fails instead of hanging when what it waits for never happens.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(60), interval: Duration = .milliseconds(5), _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw PollTimeout(condition: what, timeout: timeout) }
        try await Task.sleep(for: interval)
    }
}
