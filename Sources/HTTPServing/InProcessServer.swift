import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A Hummingbird application served inside this process (the simulator, the receiver in tests,
/// a test's endpoint): started with the port it bound, stopped gracefully.
///
/// Stopping goes through swift-service-lifecycle's graceful shutdown, as SIGTERM does for
/// `serve`: requests in flight finish, the server closes, and nothing is logged above info.
/// Cancelling the serving task instead makes Hummingbird log an error for every open channel.
public final class InProcessServer: Sendable {
    private let running = Mutex<(group: ServiceGroup, task: Task<Void, any Error>)?>(nil)

    public init() {}

    /// Starts the application that `make` builds around the callback it is to call once
    /// listening (with the bound port), and returns that port.
    public func start<App: ApplicationProtocol>(
        logger: Logger, _ make: (_ onRunning: @escaping @Sendable (Int?) async -> Void) -> App
    ) async throws -> Int {
        let (ports, continuation) = AsyncStream<Int?>.makeStream()
        let app = make { port in
            continuation.yield(port)
            continuation.finish()
        }
        var configuration = ServiceGroupConfiguration(services: [app], logger: logger)
        // A request that never ends (a stalled simulator, a client that keeps a body coming)
        // does not hold the shutdown: after this, what is left is cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(3)
        let group = ServiceGroup(configuration: configuration)
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        running.withLock { $0 = (group, task) }
        for await port in ports {
            if let port { return port }
        }
        _ = try await task.value
        throw ServerStoppedError()
    }

    /// Shuts the server down gracefully (at most 3 s for the requests in flight) and waits until
    /// it has.
    public func stop() async {
        guard let (group, task) = running.withLock({ running in defer { running = nil }; return running }) else { return }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// The server stopped before it listened (its port taken, say).
public struct ServerStoppedError: Error, CustomStringConvertible {
    public var description: String { "the server stopped before it listened" }
}
