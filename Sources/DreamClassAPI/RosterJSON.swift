import Models

/// A roster page read straight from its bytes, for the plain shape DreamClass sends: a bare array
/// of rows, or a page envelope, with `id`, `studentId`, `active` and `addedAt` in each row.
///
/// Foundation's `JSONDecoder` took about 5 µs a row here, the largest share of the client's CPU
/// in a large school's run. This reads the same rows directly, and gives up (`nil`) on anything it
/// is not sure to read exactly as `JSONDecoder` would: escapes in a key or in `addedAt`, a number
/// that is not a plain integer, a field named twice, a date `Timestamp` cannot read, invalid JSON.
/// The caller then decodes with `JSONDecoder`, which also names what is wrong. Other fields are
/// skipped (checked to be valid JSON), as `JSONDecoder` ignores them.
enum RosterJSON {
    static func page(_ body: [UInt8]) -> ListPage<Enrollment>? {
        body.withUnsafeBufferPointer { bytes in
            var scanner = Scanner(bytes: bytes)
            return try? scanner.top()
        }
    }
}

/// Not readable here; the caller falls back to `JSONDecoder`.
private struct GiveUp: Error {}

/// Fills `field` from `read`; a field named twice gives up (`JSONDecoder` keeps one of them, and
/// which is not ours to guess).
private func once<T>(_ field: inout T?, _ read: () throws -> T) throws {
    guard case .none = field else { throw GiveUp() }
    field = try read()
}

private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// A string held a byte above ASCII: the body's UTF-8 is checked once at the end.
    var nonASCII = false

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func top() throws -> ListPage<Enrollment> {
        skipSpace()
        let page: ListPage<Enrollment>
        switch peek() {
        case UInt8(ascii: "["): page = .array(try rows())
        case UInt8(ascii: "{"): page = try envelope()
        default: throw GiveUp()
        }
        skipSpace()
        guard index == bytes.count else { throw GiveUp() }
        if nonASCII, String(validating: bytes, as: UTF8.self) == nil { throw GiveUp() }
        return page
    }

    // MARK: The shape

    mutating func envelope() throws -> ListPage<Enrollment> {
        var content: [Enrollment]?
        var last: Bool??
        var totalPages: Int??
        var totalElements: Int??
        try members { scanner, key in
            switch key {
            case "content":
                try once(&content) { try scanner.rows() }
            case "last":
                try once(&last) { try scanner.orNull { try $0.bool() } }
            case "totalPages":
                try once(&totalPages) { try scanner.orNull { try $0.integer() } }
            case "totalElements":
                try once(&totalElements) { try scanner.orNull { try $0.integer() } }
            default:
                try scanner.skipValue(depth: 1)
            }
        }
        let (lastValue, pagesValue) = (last ?? nil, totalPages ?? nil)
        guard let content, lastValue != nil || pagesValue != nil else { throw GiveUp() }
        return .page(content: content, last: lastValue, totalPages: pagesValue, totalElements: totalElements ?? nil)
    }

    mutating func rows() throws -> [Enrollment] {
        var rows: [Enrollment] = []
        try elements { scanner in rows.append(try scanner.row()) }
        return rows
    }

    mutating func row() throws -> Enrollment {
        var id: Int?
        var studentID: Int?
        var active: Bool?
        var addedAt: String?
        try members { scanner, key in
            switch key {
            case "id":
                try once(&id) { try scanner.integer() }
            case "studentId":
                try once(&studentID) { try scanner.integer() }
            case "active":
                try once(&active) { try scanner.bool() }
            case "addedAt":
                try once(&addedAt) { String(decoding: try scanner.plainString(), as: UTF8.self) }
            default:
                try scanner.skipValue(depth: 2)
            }
        }
        guard let id, let studentID, let active, let addedAt, Timestamp.parse(addedAt) != nil else { throw GiveUp() }
        return Enrollment(id: id, studentId: studentID, active: active, addedAt: addedAt)
    }

    // MARK: JSON


    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func consume(_ byte: UInt8) throws {
        skipSpace()
        guard peek() == byte else { throw GiveUp() }
        index += 1
    }

    /// `open item, ... close`, each item read by `item`.
    mutating func delimited(_ open: UInt8, _ close: UInt8, _ item: (inout Scanner) throws -> Void) throws {
        try consume(open)
        skipSpace()
        if peek() == close {
            index += 1
            return
        }
        while true {
            skipSpace()
            try item(&self)
            skipSpace()
            guard let next = peek() else { throw GiveUp() }
            index += 1
            if next == close { return }
            guard next == UInt8(ascii: ",") else { throw GiveUp() }
        }
    }

    /// `[ value, ... ]`, each value read by `element`.
    mutating func elements(_ element: (inout Scanner) throws -> Void) throws {
        try delimited(UInt8(ascii: "["), UInt8(ascii: "]"), element)
    }

    /// `{ "key": value, ... }`, each value read by `member`, which is handed its key.
    mutating func members(_ member: (inout Scanner, String) throws -> Void) throws {
        try delimited(UInt8(ascii: "{"), UInt8(ascii: "}")) { scanner in
            let key = String(decoding: try scanner.plainString(), as: UTF8.self)
            try scanner.consume(UInt8(ascii: ":"))
            scanner.skipSpace()
            try member(&scanner, key)
        }
    }

    /// A string without escapes, as its bytes.
    mutating func plainString() throws -> UnsafeBufferPointer<UInt8>.SubSequence {
        guard peek() == UInt8(ascii: "\"") else { throw GiveUp() }
        let start = index + 1
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                index = end + 1
                return bytes[start..<end]
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { throw GiveUp() }
            if byte >= 0x80 { nonASCII = true }
            end += 1
        }
        throw GiveUp()
    }

    /// `-?(0|[1-9][0-9]*)` that fits an `Int`, and nothing that would make it a fraction.
    mutating func integer() throws -> Int {
        let negative = peek() == UInt8(ascii: "-")
        if negative { index += 1 }
        let start = index
        var value = 0
        while let byte = peek(), byte >= 0x30, byte <= 0x39 {
            let digit = Int(byte - 0x30)
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflow, !overflow2 else { throw GiveUp() }
            value = sum
            index += 1
        }
        let count = index - start
        guard count > 0, count == 1 || bytes[start] != 0x30 else { throw GiveUp() }
        if let next = peek(), next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") { throw GiveUp() }
        return value
    }

    mutating func bool() throws -> Bool {
        if literal("true") { return true }
        if literal("false") { return false }
        throw GiveUp()
    }

    /// `null`, or what `value` reads.
    mutating func orNull<T>(_ value: (inout Scanner) throws -> T) throws -> T? {
        literal("null") ? nil : try value(&self)
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// Any valid JSON value, read past. Strings may hold the simple escapes; `\u` gives up.
    mutating func skipValue(depth: Int) throws {
        guard depth < 64, let first = peek() else { throw GiveUp() }
        switch first {
        case UInt8(ascii: "\""):
            index += 1
            while let byte = peek() {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return
                case UInt8(ascii: "\\"):
                    switch peek() {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    default: throw GiveUp()
                    }
                case ..<0x20: throw GiveUp()
                case 0x80...: nonASCII = true
                default: break
                }
            }
            throw GiveUp()
        case UInt8(ascii: "{"): try members { scanner, _ in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): try elements { try $0.skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): guard literal("null") else { throw GiveUp() }
        default: try skipNumber()
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    mutating func skipNumber() throws {
        if peek() == UInt8(ascii: "-") { index += 1 }
        func digits(_ scanner: inout Scanner) -> Int {
            let start = scanner.index
            while let byte = scanner.peek(), byte >= 0x30, byte <= 0x39 { scanner.index += 1 }
            return scanner.index - start
        }
        let start = index
        let whole = digits(&self)
        guard whole > 0, whole == 1 || bytes[start] != 0x30 else { throw GiveUp() }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw GiveUp() }
        }
        if let next = peek(), next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            index += 1
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw GiveUp() }
        }
    }
}
