import HTTPServing
import Hummingbird
import Logging

/// An HTTP server on a free loopback port that answers with `respond`: the school's webhook
/// endpoint, a health-check service, whatever a test needs on the other end.
public final class TestHTTPServer: Sendable {
    private let respond: @Sendable (Request) async -> Response
    private let server = InProcessServer()

    public init(respond: @escaping @Sendable (Request) async -> Response) {
        TestLogging.bootstrap()
        self.respond = respond
    }

    /// Starts listening; returns `http://127.0.0.1:PORT`.
    public func start() async throws -> String {
        let respond = self.respond
        let port = try await server.start(logger: Logger(label: "test-http")) { onRunning in
            Application(
                responder: CallbackResponder { (request: Request, _: BasicRequestContext) in await respond(request) },
                configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { await onRunning($0.localAddress?.port) }
            )
        }
        return "http://127.0.0.1:\(port)"
    }

    public func stop() async {
        await server.stop()
    }
}
