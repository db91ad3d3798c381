/// RFC 4180 CSV, safe to open in a spreadsheet.
public enum CSV {
    /// One record, ended by CRLF as RFC 4180 asks.
    public static func line(_ cells: [String]) -> String {
        cells.map(cell).joined(separator: ",") + "\r\n"
    }

    /// One field: neutralized if a spreadsheet would run it as a formula, and quoted when it
    /// holds a comma, a quote or a line break.
    public static func cell(_ value: String) -> String {
        var text = value
        // A leading =, +, -, @, tab or CR makes Excel, LibreOffice and Sheets evaluate the cell:
        // a leading apostrophe makes it text.
        if let first = text.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) {
            text = "'" + text
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
