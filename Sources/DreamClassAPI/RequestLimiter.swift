import Foundation

/// Bounds the requests in flight across a run, and optionally the requests started per second.
actor RequestLimiter {
    private let limit: Int
    private var inFlight = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private let interval: Duration?
    private var nextStart = ContinuousClock.now

    init(concurrency: Int, requestsPerSecond: Double?) {
        limit = max(1, concurrency)
        interval = requestsPerSecond.flatMap { $0 > 0 ? .nanoseconds(Int64(1e9 / $0)) : nil }
    }

    /// Waits for a free slot, and for the request rate to allow one more start.
    func acquire() async {
        if inFlight < limit {
            inFlight += 1
        } else {
            // The slot is handed over by `release`, which does not decrement in that case.
            await withCheckedContinuation { waiters.append($0) }
        }
        if let interval {
            let now = ContinuousClock.now
            let start = max(now, nextStart)
            nextStart = start + interval
            if start > now { try? await Task.sleep(until: start, clock: .continuous) }
        }
    }

    func release() {
        if waiters.isEmpty {
            inFlight -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
