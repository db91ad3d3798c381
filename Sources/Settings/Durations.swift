import Foundation

/// Parses a duration as the command line takes it: `0`, `90s`, `15m`, `2h`, `1d` (a bare number is
/// seconds); `nil` for anything else, a negative number, or one beyond ``longestDuration``.
public func parseDuration(_ text: String) -> Duration? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard let unit = trimmed.last else { return nil }
    let scale: Int64
    var number = Substring(trimmed)
    switch unit {
    case "s": scale = 1; number = number.dropLast()
    case "m": scale = 60; number = number.dropLast()
    case "h": scale = 3600; number = number.dropLast()
    case "d": scale = 86_400; number = number.dropLast()
    default: scale = 1
    }
    guard let value = Int64(number), value >= 0 else { return nil }
    let (seconds, overflow) = value.multipliedReportingOverflow(by: scale)
    return overflow || seconds > longestDuration ? nil : .seconds(seconds)
}

/// The longest duration a setting takes, in seconds (about 100 years): longer ones are typos, and
/// every clock and timer the job hands a duration to holds this much.
public let longestDuration: Int64 = 100 * 365 * 86_400
