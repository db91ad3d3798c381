import Foundation
import Models
import Reports
import Testing

@Suite struct DriftReportTests {
    @Test func cellsAreQuotedAndFormulasNeutralized() {
        #expect(CSV.cell("plain") == "plain")
        #expect(CSV.cell("O'Brien, Pat") == "\"O'Brien, Pat\"")
        #expect(CSV.cell("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.cell("two\nlines") == "\"two\nlines\"")
        #expect(CSV.cell("=HYPERLINK(\"http://evil\")") == "\"'=HYPERLINK(\"\"http://evil\"\")\"")
        #expect(CSV.cell("+1") == "'+1")
        #expect(CSV.cell("-2") == "'-2")
        #expect(CSV.cell("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSV.cell("\tx") == "'\tx")
        #expect(CSV.cell("\rx") == "\"'\rx\"")
        #expect(CSV.line(["a", "b"]) == "a,b\r\n")
    }

    @Test func aReportHasAHeaderAndARowPerItemInCSVAndJSON() throws {
        var item = StoredDriftItem(runID: 7, kind: "missed_update", studentPeriodID: 74, firstSeenRun: 5)
        item.studentName = "=cmd|' /C calc'!A0"
        item.changedFields = "studentId;active"
        item.localActive = true
        item.remoteActive = false
        let csv = DriftReport.render([item], tenant: "my-school", format: .csv)
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines[0].hasPrefix("run_id,tenant,kind,period_id,period_name,student_period_id,student_id,student_name"))
        #expect(lines[1] == "7,my-school,missed_update,,,74,,'=cmd|' /C calc'!A0,,,studentId;active,true,false,,,,,,5")
        let json = DriftReport.render([item], tenant: "my-school", format: .json)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(decoded?.count == 1)
        #expect(decoded?.first?["student_period_id"] as? String == "74")
        #expect(decoded?.first?["student_name"] as? String == "=cmd|' /C calc'!A0")
        #expect(decoded?.first?["period_id"] is NSNull)
    }
}
