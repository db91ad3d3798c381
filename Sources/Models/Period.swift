/// A school period, from GetSchoolPeriods.
public struct Period: Sendable, Codable, Equatable, Hashable {
    public var id: Int
    public var name: String?
    public var shortName: String?
    /// `YYYY-MM-DD`.
    public var startDate: String?
    /// `YYYY-MM-DD`.
    public var endDate: String?

    public init(id: Int, name: String? = nil, shortName: String? = nil, startDate: String? = nil, endDate: String? = nil) {
        self.id = id
        self.name = name
        self.shortName = shortName
        self.startDate = startDate
        self.endDate = endDate
    }

    private enum CodingKeys: String, CodingKey { case id, name, shortName, startDate, endDate }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        shortName = try container.decodeIfPresent(String.self, forKey: .shortName)
        startDate = try Self.date(container, .startDate)
        endDate = try Self.date(container, .endDate)
    }

    /// Whether `day` (`YYYY-MM-DD`) lies within the period's dates; a missing end is open.
    public func contains(day: String) -> Bool {
        guard let startDate else { return false }
        return startDate <= day && (endDate.map { day <= $0 } ?? true)
    }

    private static func date(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> String? {
        guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
        // Only the day is used; a longer ISO form (`2024-09-01T00:00:00`) keeps its date part.
        let day = String(text.prefix(10))
        let parts = day.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isNumber) })
        else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\"\(text)\" is not a YYYY-MM-DD date")
        }
        return day
    }
}
