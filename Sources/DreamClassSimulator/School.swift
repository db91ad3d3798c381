import DreamClassAPI
import Foundation
import Models

/// What the simulator serves: a school's periods, the enrollments of each, and its students.
///
/// As a fixture file (`--fixture`), JSON of this shape:
/// `{"periods": [{"id": 1, "name": "2026/27", "startDate": "2026-09-01", "endDate": "2027-06-30"}],
///   "enrollments": {"1": [{"id": 74, "studentId": 76, "active": true, "addedAt": "2024-10-02T09:40:02.179+00:00"}]},
///   "students": [{"id": 76, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.org", "status": "active"}]}`
public struct School: Sendable, Equatable, Codable {
    public var periods: [Period]
    /// Per period id.
    public var enrollments: [Int: [Enrollment]]
    public var students: [Int: Student]

    public init(periods: [Period], enrollments: [Int: [Enrollment]], students: [Student]) {
        self.periods = periods
        self.enrollments = enrollments
        self.students = Dictionary(students.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
    }

    private enum CodingKeys: String, CodingKey { case periods, enrollments, students }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        periods = try container.decode([Period].self, forKey: .periods)
        let byName = try container.decodeIfPresent([String: [Enrollment]].self, forKey: .enrollments) ?? [:]
        enrollments = [:]
        for (key, rows) in byName {
            guard let id = Int(key) else {
                throw DecodingError.dataCorruptedError(forKey: .enrollments, in: container, debugDescription: "period id \"\(key)\" is not an integer")
            }
            enrollments[id] = rows
        }
        let list = try container.decodeIfPresent([Student].self, forKey: .students) ?? []
        students = Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(periods, forKey: .periods)
        try container.encode(Dictionary(uniqueKeysWithValues: enrollments.map { (String($0.key), $0.value) }), forKey: .enrollments)
        try container.encode(students.values.sorted { $0.id < $1.id }, forKey: .students)
    }

    /// Reads a fixture file.
    public static func load(fixture path: String) throws -> School {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            return try JSONDecoder().decode(School.self, from: data)
        } catch let error as DecodingError {
            throw SimulatorError("fixture \(path): \(error)")
        }
    }

    /// A school of `periods` periods with `studentsPerPeriod` enrollments each, the same for the
    /// same seed. Enrollment ids are unique across the school; students recur across periods, as
    /// they do when a student stays from one year to the next. The first period is the current
    /// one; each further one a year earlier.
    public static func generate(periods: Int, studentsPerPeriod: Int, seed: UInt64, today: Date = Date()) -> School {
        var random = SeededRandom(seed: seed)
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: today).year ?? 2026
        let startYear = Timestamp.format(today).prefix(7) >= "\(year)-09" ? year : year - 1
        let studentPool = max(1, studentsPerPeriod * 2)
        var allPeriods: [Period] = []
        var enrollments: [Int: [Enrollment]] = [:]
        var students: [Student] = []
        for index in 0..<periods {
            let id = 100 + index
            let first = startYear - index
            let period = Period(
                id: id, name: "School year \(first)/\(first + 1)", shortName: "\(first)",
                startDate: "\(first)-09-01", endDate: "\(first + 1)-07-31"
            )
            allPeriods.append(period)
            let opened = Timestamp.parse("\(first)-09-01T08:00:00Z")!
            enrollments[id] = (0..<studentsPerPeriod).map { row in
                let seconds = Double(Int.random(in: 0..<(30 * 86_400), using: &random))
                let millis = Double(Int.random(in: 0..<1000, using: &random)) / 1000
                return Enrollment(
                    id: index * studentsPerPeriod + row + 1,
                    studentId: 10_000 + (row + index * studentsPerPeriod / 2) % studentPool,
                    active: Int.random(in: 0..<10, using: &random) > 0,
                    addedAt: Timestamp.formatMilliseconds(opened.addingTimeInterval(seconds + millis))
                )
            }
        }
        let firstNames = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Edsger", "Barbara", "Dennis", "Frances"]
        let lastNames = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Dijkstra", "Liskov", "Ritchie", "Allen"]
        for offset in 0..<studentPool {
            let first = firstNames[Int.random(in: 0..<firstNames.count, using: &random)]
            let last = lastNames[Int.random(in: 0..<lastNames.count, using: &random)]
            students.append(Student(
                id: 10_000 + offset, firstName: first, lastName: last,
                email: "\(first.lowercased()).\(last.lowercased()).\(offset)@school.example", status: "active"
            ))
        }
        return School(periods: allPeriods, enrollments: enrollments, students: students)
    }
}

/// A simulator that cannot start or load its school.
public struct SimulatorError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
