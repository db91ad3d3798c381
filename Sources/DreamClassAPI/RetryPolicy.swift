import Foundation

/// When to try a call again, and how long to wait first.
struct RetryPolicy: Sendable {
    var maxAttempts: Int
    var base: Duration
    var cap: Duration

    /// At least one try, whatever a caller set the configuration's field to.
    init(maxAttempts: Int, base: Duration, cap: Duration) {
        self.maxAttempts = max(1, maxAttempts)
        self.base = base
        self.cap = cap
    }

    /// Statuses that say "later", not "never".
    static let retryableStatuses: Set<Int> = [429, 500, 502, 503, 504]

    /// The wait before try `attempt + 1` (attempts count from 1): full jitter, a random wait in
    /// [0, min(cap, base × 2^(attempt-1))], or the server's `Retry-After` when that is longer.
    func delay(afterAttempt attempt: Int, retryAfter: Duration?, using random: inout some RandomNumberGenerator) -> Duration {
        let exponent = Double(1 << min(attempt - 1, 30))
        let ceiling = min(cap.seconds, base.seconds * exponent)
        let jitter = Duration.seconds(Double.random(in: 0...max(0, ceiling), using: &random))
        guard let retryAfter else { return jitter }
        return max(retryAfter, jitter)
    }

    /// `Retry-After` as seconds (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`).
    static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        // Any number a server sends is taken without trapping: past a billion seconds (~32
        // years) all waits are the same, too long.
        let longest = 1e9
        if let seconds = Double(value) { return seconds >= 0 && !seconds.isNaN ? .seconds(min(seconds, longest)) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(min(max(0, date.timeIntervalSince(now)), longest))
    }
}

extension ContinuousClock.Instant? {
    /// `timeout`, cut short so that a request ends by this deadline (none: as it is).
    func bound(_ timeout: Duration) -> Duration {
        guard let self else { return timeout }
        return min(timeout, max(.zero, self - ContinuousClock.now))
    }

    /// Whether this deadline passes within `wait` from now (or has passed).
    func passes(within wait: Duration = .zero) -> Bool {
        guard let self else { return false }
        return ContinuousClock.now + wait >= self
    }
}
