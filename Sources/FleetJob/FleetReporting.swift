import Logging
import Monitoring

/// What the end of a fleet tells the outside, besides its exit code: a metrics file (for
/// node_exporter's textfile collector), a Pushgateway (for a job no scraper reaches), a health
/// ping (start, then success or fail with one line a school). A report that cannot be made is
/// printed and does not change the exit code: the schools' outcomes are that.
public struct FleetReporting: Sendable {
    public var metricsFile: String?
    public var metricsPush: String?
    public var ping: HealthPing?

    public init(metricsFile: String? = nil, metricsPush: String? = nil, ping: HealthPing? = nil) {
        self.metricsFile = metricsFile
        self.metricsPush = metricsPush
        self.ping = ping
    }

    /// Before the first school: the ping's start.
    public func started() async {
        await ping?.send(.start)
    }

    /// After the last school: writes and pushes the metrics, pings success or fail, and returns
    /// the fleet's exit code, the worst of the schools'.
    public func finished(_ results: [FleetRunner.Result], console: Console) async -> Int32 {
        let samples = results.map {
            MetricsFile.Sample(tenant: $0.school.api.tenant, status: $0.status, finishedAt: $0.finishedAt, seconds: $0.seconds, run: $0.run)
        }
        let worst = ExitStatus.worst(results.map(\.code))
        if let metricsFile {
            do { try MetricsFile.write(samples, to: metricsFile) } catch {
                console.error("error: cannot write metrics to \(metricsFile): \(error)\n")
            }
        }
        if let metricsPush {
            do { try await MetricsPush(url: metricsPush).push(samples) } catch { console.error("error: \(error)\n") }
        }
        let lines = samples.map { "\($0.tenant): \($0.status.rawValue)" + ($0.run.map { " (run \($0.runID))" } ?? "") }
        await ping?.send(worst == ExitStatus.ok || worst == ExitStatus.drift ? .success : .fail, body: lines.joined(separator: "\n"))
        return worst
    }
}
