import Foundation

/// ISO 8601 date-times as PostgreSQL and DreamClass write them, without Foundation's formatters,
/// which are slow on Linux and depend on locale settings.
public enum Timestamp {
    /// The epoch milliseconds of the instants this product stores and prints: 0001-01-01 to
    /// 9999-12-31, the years ISO 8601 writes with four digits. A webhook `timestamp` outside is
    /// rejected where it is parsed.
    public static let validMillis: ClosedRange<Int64> = -62_135_596_800_000 ... 253_402_300_799_999

    /// `2024-10-02T09:40:02.179000Z`: microseconds, PostgreSQL's own precision, in UTC. A date
    /// outside ``validMillis`` (or not a number) is printed as the nearest end of that range:
    /// printing never traps, and input out of range is refused before it gets here.
    public static func format(_ date: Date) -> String {
        var micros = epochMicroseconds(date)
        var seconds = micros / 1_000_000
        micros %= 1_000_000
        if micros < 0 {
            micros += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
    }

    /// The instant in whole microseconds since 1970, PostgreSQL's precision, as ``format(_:)``
    /// prints it (and as binary `COPY` sends it): a date outside ``validMillis`` (or not a number)
    /// is the nearest end of that range.
    public static func epochMicroseconds(_ date: Date) -> Int64 {
        let lowest = validMillis.lowerBound * 1000, highest = validMillis.upperBound * 1000 + 999
        let raw = (date.timeIntervalSince1970 * 1_000_000).rounded()
        // Compared as Doubles (whose steps near the ends are 32 µs), converted only inside.
        return raw.isNaN ? 0 : raw <= Double(lowest) ? lowest : raw >= Double(highest) ? highest : Int64(raw)
    }

    /// `2024-10-02T09:40:02.179Z`: milliseconds in UTC, the one format of every report and of
    /// `explain`, whatever form the instant came in (a spreadsheet sorts one format as text).
    public static func display(_ date: Date) -> String {
        String(format(date).dropLast(4)) + "Z"
    }

    /// A date-time as sent (`…+00:00`, `…Z`, any offset) in ``display(_:)``'s form; text that is
    /// no date-time stays as it is.
    public static func display(_ text: String) -> String {
        parse(text).map(display) ?? text
    }

    /// `2024-10-02T09:40:02.179+00:00`: milliseconds and a numeric offset, as DreamClass writes them.
    public static func formatMilliseconds(_ date: Date) -> String {
        let micro = format(date)
        return String(micro.dropLast(4)) + "+00:00"
    }

    /// Parses `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH[:MM[:SS]]]`, as PostgreSQL prints with
    /// `DateStyle=ISO` and as ISO 8601 writes it. A missing offset means UTC.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ count: Int) -> Int64? {
            guard i + count <= b.count else { return nil }
            var value: Int64 = 0
            for _ in 0..<count {
                let c = b[i]
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int64(c - 48)
                i += 1
            }
            return value
        }
        func expect(_ c: UInt8...) -> Bool {
            guard i < b.count, c.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2),
            (1...12).contains(month), (1...31).contains(day),
            expect(32, 84, 116), let hour = digits(2), expect(58), let minute = digits(2), expect(58),
            let second = digits(2), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offset: Int64 = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 {
                i += 1
            } else if b[i] == 43 || b[i] == 45 {
                let sign: Int64 = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = digits(2) else { return nil }
                var om: Int64 = 0
                var os: Int64 = 0
                if i < b.count, b[i] == 58 { i += 1 }
                if i < b.count { guard let m = digits(2) else { return nil }; om = m }
                if i < b.count, b[i] == 58 { i += 1 }
                if i < b.count { guard let s = digits(2) else { return nil }; os = s }
                offset = sign * (oh * 3600 + om * 60 + os)
            } else {
                return nil
            }
        }
        guard i == b.count else { return nil }
        let days = self.days(fromCivil: year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    // Howard Hinnant's days_from_civil / civil_from_days: exact proleptic Gregorian arithmetic.
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
