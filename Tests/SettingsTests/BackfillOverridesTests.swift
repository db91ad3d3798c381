import APIConfiguration
import Reconciliation
import Settings
import Testing

/// `backfill`'s and `run --backfill`'s flags over a school's settings.
@Suite struct BackfillOverridesTests {
    let school: SchoolSettings = {
        var school = SchoolSettings(name: "north", api: DreamClassConfiguration(apiKey: "k", schoolCode: "S", tenant: "north"))
        school.maxDeletes = .count(5)
        school.deliverURL = "https://north.example/hook"
        school.deliverUser = "north"
        school.keyEncoding = .hex
        return school
    }()

    @Test func aFlagGivenWinsAndAFlagNotGivenLeavesTheSchoolsSetting() {
        let none = BackfillOverrides().applied(to: school)
        #expect(none.maxDeletes == .count(5) && none.deliverURL == "https://north.example/hook" && none.deliverUser == "north" && none.keyEncoding == .hex)

        let some = BackfillOverrides(maxDeletes: .percent(20), keyEncoding: .raw).applied(to: school)
        #expect(some.maxDeletes == .percent(20) && some.keyEncoding == .raw)
        #expect(some.deliverURL == "https://north.example/hook" && some.deliverUser == "north")
        // Nothing else of the school changes.
        #expect(some.api.tenant == "north" && some.createGuard.maxShare == school.createGuard.maxShare)
    }
}
