/// A student, from GetStudent. Only `id` is required; the rest is for the report.
public struct Student: Sendable, Codable, Equatable {
    public var id: Int
    public var firstName: String?
    public var lastName: String?
    public var email: String?
    /// active, inactive, unenrolled or deleted, in the product's words.
    public var status: String?

    public init(id: Int, firstName: String? = nil, lastName: String? = nil, email: String? = nil, status: String? = nil) {
        self.id = id
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.status = status
    }

    /// "First Last", or whichever of them there is.
    public var fullName: String? {
        let parts = [firstName, lastName].compactMap { $0 }.filter { !$0.isEmpty }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }
}

/// What GetStudent found: a merged or deleted student answers 404, which is an answer, not an error.
public enum StudentLookup: Sendable, Equatable {
    case found(Student)
    case notFound(id: Int)
}
