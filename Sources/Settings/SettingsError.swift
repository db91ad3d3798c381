/// A configuration file that cannot be used: names the file, the key and, when known, the line.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var key: String?
    public var line: Int?
    public var message: String
    /// Further problems found in the same pass, so that one check names them all.
    public var others: [SettingsError] = []

    public init(file: String, key: String? = nil, line: Int? = nil, message: String) {
        self.file = file
        self.key = key
        self.line = line
        self.message = message
    }

    /// The first of `errors` carrying the rest; `nil` when there are none.
    static func combined(_ errors: [SettingsError]) -> SettingsError? {
        guard var first = errors.first else { return nil }
        first.others += errors.dropFirst()
        return first
    }

    /// Every problem, this one first.
    public var all: [SettingsError] {
        var head = self
        head.others = []
        return [head] + others.flatMap(\.all)
    }

    public var description: String {
        all.map { error in
            var place = error.file
            if let line = error.line { place += ":\(line)" }
            if let key = error.key { place += ": \(key)" }
            return "\(place): \(error.message)"
        }.joined(separator: "\n")
    }
}
