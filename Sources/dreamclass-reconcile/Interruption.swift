import FleetJob
import Synchronization
import UnixSignals

/// SIGTERM (what systemd and Kubernetes send) and SIGINT for the batch jobs: the work is
/// cancelled, takes no new work, records itself as interrupted, and the process exits 143 or 130.
enum Interruption {
    private static let received = Mutex<UnixSignal?>(nil)

    /// The signal that arrived, if one did.
    static var signal: UnixSignal? { received.withLock { $0 } }

    /// 143 for SIGTERM, 130 for SIGINT (128 + the signal's number, as shells report it).
    static var exitCode: Int32? { stop?.exitCode }

    /// The signal as the jobs take it: its name and exit code.
    static var stop: Stop? {
        signal.map { Stop(name: $0.description, exitCode: $0 == .sigterm ? ExitStatus.terminated : ExitStatus.interrupted) }
    }

    /// Runs `body`, cancelling it when SIGTERM or SIGINT arrives, and returns what it returns:
    /// the body decides what a cancelled run leaves behind.
    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                for await signal in signals {
                    received.withLock { $0 = signal }
                    return nil
                }
                return nil
            }
            while let result = try await group.next() {
                // The body's end stops the watch; a signal stops the body, whose end comes next.
                group.cancelAll()
                if let value = result { return value }
            }
            throw CancellationError()
        }
    }
}
