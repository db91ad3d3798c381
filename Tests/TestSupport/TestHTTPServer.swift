import Hummingbird
import Synchronization

/// An HTTP server on a free loopback port that answers with `respond`: the school's webhook
/// endpoint, a health-check service, whatever a test needs on the other end.
public final class TestHTTPServer: Sendable {
    private let respond: @Sendable (Request) async -> Response
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(respond: @escaping @Sendable (Request) async -> Response) {
        self.respond = respond
    }

    /// Starts listening; returns `http://127.0.0.1:PORT`.
    public func start() async throws -> String {
        let (ports, continuation) = AsyncStream<Int?>.makeStream()
        let respond = self.respond
        let app = Application(
            responder: CallbackResponder { (request: Request, _: BasicRequestContext) in await respond(request) },
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port); continuation.finish() }
        )
        task.withLock { $0 = Task { defer { continuation.finish() }; try await app.run() } }
        for await port in ports { if let port { return "http://127.0.0.1:\(port)" } }
        throw CancellationError()
    }

    public func stop() async {
        let running = task.withLock { $0 }
        running?.cancel()
        _ = try? await running?.value
    }
}
