import Foundation
import Hummingbird
import Synchronization
import TestSupport

/// An HTTP server that answers 200 and keeps every request's method, path and query, in order.
final class RecordingServer: Sendable {
    let requests = Mutex<[String]>([])
    private let server: Mutex<TestHTTPServer?> = Mutex(nil)

    func start() async throws -> String {
        let http = TestHTTPServer { [self] request in
            requests.withLock { $0.append("\(request.method) \(request.uri.path)?\(request.uri.query ?? "")") }
            return Response(status: .ok)
        }
        server.withLock { $0 = http }
        return try await http.start()
    }

    func stop() async {
        await server.withLock { $0 }?.stop()
    }
}
