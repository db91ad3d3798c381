import AsyncHTTPClient
import Foundation
import NIOCore

/// Prometheus's Pushgateway, for a batch job no scraper can reach (a Kubernetes CronJob): each
/// school's metrics go to `URL/metrics/job/dreamclass-reconcile/tenant@base64/<tenant>`, the same
/// families as the textfile. A run that ended ok or with drift replaces its group whole (`PUT`),
/// its last-success gauge included; any other adds what it has (`POST`), so the last success
/// stays as it was and an alert can see how old it grows.
public struct MetricsPush: Sendable {
    /// The job label of every group.
    public static let job = "dreamclass-reconcile"

    /// The Pushgateway's base URL (`http://pushgateway:9091`).
    public let url: String

    public init(url: String) {
        var trimmed = url
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.url = trimmed
    }

    /// The group of one school. Base64url keeps any name (a `/`, a space) one path segment.
    public func address(tenant: String) -> String {
        let encoded = Data(tenant.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        return "\(url)/metrics/job/\(Self.job)/tenant@base64/\(encoded)"
    }

    /// Pushes every school's sample; throws, naming the school and the answer, on the first
    /// that is refused or cannot be sent.
    public func push(_ samples: [MetricsFile.Sample]) async throws {
        for sample in samples {
            var request = HTTPClientRequest(url: address(tenant: sample.tenant))
            request.method = sample.succeeded ? .PUT : .POST
            request.headers.add(name: "Content-Type", value: "text/plain; version=0.0.4")
            request.body = .bytes(ByteBuffer(string: MetricsFile.render([sample])))
            let response: HTTPClientResponse
            do {
                response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            } catch {
                throw MetricsPushError(tenant: sample.tenant, problem: "could not be sent: \(error)")
            }
            let body = try? await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(response.status.code) else {
                throw MetricsPushError(tenant: sample.tenant, problem: "answered HTTP \(response.status.code): \(body.map { String(buffer: $0) } ?? "")")
            }
        }
    }
}

/// A push the Pushgateway refused or never got.
public struct MetricsPushError: Error, Sendable, CustomStringConvertible {
    public var tenant: String
    public var problem: String
    public var description: String { "the metrics of \(tenant) were not pushed: the Pushgateway \(problem)" }
}
