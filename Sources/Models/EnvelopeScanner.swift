import Foundation

/// A fast path for the envelope's usual shape: one pass over the bytes, no allocation but the
/// strings kept. Foundation's `JSONDecoder` took 19 µs a webhook on Linux, the whole of `ingest`'s
/// time once the store stopped parsing JSON itself; this takes a few.
///
/// It answers only when it is sure: keys without escapes, each at most once; `id`, `type`, `tenant`
/// and `signature` strings without escapes; `timestamp` a plain integer; `data` an object whose
/// `id` and `studentId` are plain integers (or absent), `active` `true` or `false` (or absent),
/// `addedAt` a string without escapes (or absent); any other value of any key skipped whole. For
/// anything else (an escape, a fraction, a null, a duplicate key, a value of another type, text
/// after the end) it answers `nil`, and the decoder decides: the two never disagree, which a
/// differential test checks on mutated bodies.
struct EnvelopeScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    /// The envelope's fields, or `nil` when the body is not of the usual shape.
    static func scan(_ body: UnsafeBufferPointer<UInt8>) -> (id: String, type: String, tenant: String, timestamp: Int64, signature: String?, data: StoredEvent.Fields)? {
        var scanner = EnvelopeScanner(bytes: body)
        return scanner.envelope()
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private mutating func envelope() -> (id: String, type: String, tenant: String, timestamp: Int64, signature: String?, data: StoredEvent.Fields)? {
        var id: String?, type: String?, tenant: String?, timestamp: Int64?, signature: String?, data: StoredEvent.Fields?
        var seen = Set<String>()
        guard object({ key, scanner in
            guard seen.insert(key).inserted else { return false }
            switch key {
            case "id": id = scanner.string(); return id != nil
            case "type": type = scanner.string(); return type != nil
            case "tenant": tenant = scanner.string(); return tenant != nil
            case "signature": signature = scanner.string(); return signature != nil
            case "timestamp": timestamp = scanner.integer(); return timestamp != nil
            case "data": data = scanner.dataObject(); return data != nil
            default: return scanner.skipValue()
            }
        }) else { return nil }
        skipWhitespace()
        guard index == bytes.count, let id, let type, let tenant, let timestamp, let data else { return nil }
        return (id, type, tenant, timestamp, signature, data)
    }

    private mutating func dataObject() -> StoredEvent.Fields? {
        var fields = StoredEvent.Fields(id: nil, studentID: nil, active: nil, addedAt: nil)
        var seen = Set<String>()
        let parsed = object { key, scanner in
            guard seen.insert(key).inserted else { return false }
            switch key {
            case "id":
                guard let value = scanner.integer() else { return false }
                fields.id = Int(exactly: value)
                return true
            case "studentId":
                guard let value = scanner.integer() else { return false }
                fields.studentID = Int(exactly: value)
                return true
            case "active":
                guard let value = scanner.boolean() else { return false }
                fields.active = value
                return true
            case "addedAt":
                guard let value = scanner.string() else { return false }
                fields.addedAt = Timestamp.parse(value)
                return true
            default:
                return scanner.skipValue()
            }
        }
        return parsed ? fields : nil
    }

    // MARK: - Pieces

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    /// `{ "key": value, ... }`, each value read by `member`; false when anything is off.
    private mutating func object(_ member: (String, inout EnvelopeScanner) -> Bool) -> Bool {
        skipWhitespace()
        guard current == UInt8(ascii: "{") else { return false }
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return true
        }
        while true {
            skipWhitespace()
            guard let key = string() else { return false }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { return false }
            index += 1
            skipWhitespace()
            guard member(key, &self) else { return false }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return true
            default: return false
            }
        }
    }

    /// A string without escapes or control characters (the body is valid UTF-8 already).
    private mutating func string() -> String? {
        guard current == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                index = end + 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            end += 1
        }
        return nil
    }

    /// `-?(0|[1-9][0-9]*)` that fits in an Int64, followed by a delimiter (no fraction, no exponent).
    private mutating func integer() -> Int64? {
        var position = index
        let negative = position < bytes.count && bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        let digitsStart = position
        var value: Int64 = 0
        while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
            let digit = Int64(bytes[position] - 0x30)
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            position += 1
        }
        let count = position - digitsStart
        guard count > 0, !(count > 1 && bytes[digitsStart] == 0x30) else { return nil }
        if position < bytes.count {
            let next = bytes[position]
            guard next == UInt8(ascii: ",") || next == UInt8(ascii: "}") || next == UInt8(ascii: "]") || next == 0x20 || next == 0x0A
                || next == 0x0D || next == 0x09 else { return nil }
        }
        index = position
        return value
    }

    private mutating func boolean() -> Bool? {
        if literal("true") { return true }
        if literal("false") { return false }
        return nil
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// Skips one value of a key the envelope does not read: a string (escapes allowed), a number,
    /// a literal, or an object or array of those. False when it is not plain JSON.
    private mutating func skipValue(depth: Int = 0) -> Bool {
        guard depth < 64, let byte = current else { return false }
        switch byte {
        case UInt8(ascii: "\""):
            index += 1
            while let next = current {
                if next == UInt8(ascii: "\\") {
                    // An escape: one character after it, or `u` and four hex digits.
                    guard index + 1 < bytes.count else { return false }
                    if bytes[index + 1] == UInt8(ascii: "u") {
                        guard index + 5 < bytes.count,
                              bytes[(index + 2)...(index + 5)].allSatisfy({ Hex.value($0) != nil }) else { return false }
                        index += 6
                    } else {
                        guard "\"\\/bfnrt".utf8.contains(bytes[index + 1]) else { return false }
                        index += 2
                    }
                    continue
                }
                if next < 0x20 { return false }
                index += 1
                if next == UInt8(ascii: "\"") { return true }
            }
            return false
        case UInt8(ascii: "{"):
            return object { _, scanner in scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                index += 1
                return true
            }
            while true {
                skipWhitespace()
                guard skipValue(depth: depth + 1) else { return false }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"): index += 1; return true
                default: return false
                }
            }
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default:
            // A number as JSON writes it; a plain integer is all the fast path takes as sure.
            return integer() != nil
        }
    }
}
