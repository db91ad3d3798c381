import NIOPosix

/// The one way this product takes blocking work (libpq's calls, which wait on the network) off
/// Swift's cooperative threads: a thread pool for the process, shared by every job.
///
/// A task waiting here leaves its cooperative thread free for HTTP answers and timers; a task
/// cancelled before its work starts never runs it (NIO's pool drops cancelled work).
public enum Blocking {
    /// Sized for the most connections a job keeps busy at once (ingest writers, the receiver's
    /// pool, a run's fold), not for the cores: the threads mostly wait on the server.
    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 16)
        pool.start()
        return pool
    }()

    /// Runs `body` on the pool and waits for it without blocking the caller's thread.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Like ``run(_:)``, but runs `body` even when the calling task is cancelled: for the writes
    /// that record why work stopped (a run marked `interrupted` after a signal).
    public static func runEvenIfCancelled<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        // A detached task does not inherit the caller's cancellation.
        try await Task.detached { try await pool.runIfActive(body) }.value
    }
}
