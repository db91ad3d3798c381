/// Hexadecimal digits on bytes, both ways: UUIDs, `bytea` text, hex-encoded secrets.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The value of one hex digit, either case.
    public static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Appends `byte` as two lower-case digits.
    public static func append(_ byte: UInt8, to buffer: inout [UInt8]) {
        buffer.append(digits[Int(byte >> 4)])
        buffer.append(digits[Int(byte & 0x0f)])
    }

    /// The bytes that pairs of digits spell, or `nil` when `text` has an odd length or a non-digit.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index != text.endIndex {
            let next = text.index(after: index)
            guard let high = value(text[index]), let low = value(text[next]) else { return nil }
            bytes.append(high << 4 | low)
            index = text.index(after: next)
        }
        return bytes
    }
}
