import Foundation
import Hummingbird
import Synchronization

/// An HTTP server that answers 200 and keeps every request's method, path and query, in order.
final class RecordingServer: Sendable {
    let requests = Mutex<[String]>([])
    private let task = Mutex<Task<Void, any Error>?>(nil)

    func start() async throws -> String {
        let (ports, continuation) = AsyncStream<Int?>.makeStream()
        let app = Application(
            responder: CallbackResponder { [self] (request: Request, _: BasicRequestContext) in
                requests.withLock { $0.append("\(request.method) \(request.uri.path)?\(request.uri.query ?? "")") }
                return Response(status: .ok)
            },
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port); continuation.finish() }
        )
        task.withLock { $0 = Task { try await app.run() } }
        for await port in ports { if let port { return "http://127.0.0.1:\(port)" } }
        throw CancellationError()
    }

    func stop() async {
        let running = task.withLock { $0 }
        running?.cancel()
        _ = try? await running?.value
    }
}
