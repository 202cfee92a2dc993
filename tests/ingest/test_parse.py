"""parse_source: typed canonical frames, quarantine with file/line/column/reason, structural rejection."""
from __future__ import annotations

import pandas as pd
import pytest

from notifier.contract import SOURCES
from notifier.ingest.decode import QUARANTINE_COLUMNS, StructuralError, read_export
from notifier.ingest.parse import GARBLED, REQUIRED, ParsedSource, parse_source

JUMIN_HEADER = "宛名番号,世帯番号,氏名,氏名カナ,生年月日,性別,続柄,住所コード,住所,住民となった日,消除日,消除事由"
GOOD = "0000001,100001,和泉　太郎,ｲｽﾞﾐ ﾀﾛｳ,S60.1.1,1,世帯主,272191000001,和泉市府中町1丁目,,,"


def parse(name: str, text: str, file: str | None = None, **kw) -> ParsedSource:
    file = file or SOURCES[name].file
    frame, _ = read_export(text.encode("utf-8"), file)
    return parse_source(SOURCES[name], frame, file, **kw)


def jumin(*rows: str, header: str = JUMIN_HEADER) -> ParsedSource:
    return parse("juminhyo", "\n".join([header, *rows]) + "\n")


def quarantined(p: ParsedSource) -> list[tuple]:
    return [tuple(r) for r in p.quarantine[["line", "column", "value", "reason"]].itertuples(index=False)]


def test_a_good_juminhyo_row_is_typed_with_canonical_names():
    p = jumin(GOOD, "0000002,100001,和泉　花子,いずみ　はなこ,令和元年5月1日,女,長女,272191000001,,2019/5/1,,")
    f = p.frame
    assert list(f.columns) == [
        "line_no", "atena_no", "setai_no", "name", "name_kana", "name_kana_strict", "name_kana_loose",
        "birth_date", "sex", "relation", "relation_norm", "address_code", "address", "resident_since",
        "removed_on", "removal_reason", "gaiji"]
    assert f["line_no"].tolist() == [2, 3]
    assert f["atena_no"].tolist() == ["0000001", "0000002"]          # leading zeros kept
    assert f["name"].tolist() == ["和泉　太郎", "和泉　花子"]        # original, for display
    assert f["name_kana"].tolist() == ["ｲｽﾞﾐ ﾀﾛｳ", "いずみ　はなこ"]
    assert f["name_kana_strict"].tolist() == ["イズミタロウ", "イズミハナコ"]
    assert f["name_kana_loose"].tolist() == ["イズミタロー", "イズミハナコ"]
    assert f["birth_date"].tolist() == [pd.Timestamp("1985-01-01"), pd.Timestamp("2019-05-01")]
    assert f["birth_date"].dtype == "datetime64[ns]"
    assert f["sex"].dtype == "Int8" and f["sex"].tolist() == [1, 2]
    assert f["relation"].tolist() == ["世帯主", "長女"] and f["relation_norm"].tolist() == ["世帯主", "子"]
    assert pd.isna(f["address"].iloc[1]) and pd.isna(f["removed_on"].iloc[0])
    assert pd.isna(f["removal_reason"].iloc[0])
    assert f["gaiji"].tolist() == [False, False]
    assert (p.rows_read, p.duplicates_dropped, p.rows_quarantined, p.ignored_columns) == (2, 0, 0, [])
    assert list(p.quarantine.columns) == QUARANTINE_COLUMNS and len(p.quarantine) == 0


def test_a_missing_required_column_rejects_the_file_naming_file_line_and_header():
    header = JUMIN_HEADER.replace("生年月日,", "")
    row = GOOD.replace("S60.1.1,", "")
    with pytest.raises(StructuralError) as e:
        jumin(row, header=header)
    assert (e.value.file, e.value.line, e.value.field) == ("juminhyo.csv", 1, "生年月日")
    assert str(e.value) == "juminhyo.csv:1: 生年月日: 必須の列がありません"


def test_every_missing_required_column_is_named_at_once():
    with pytest.raises(StructuralError) as e:
        parse("juminhyo", "宛名番号,世帯番号,氏名,氏名カナ,続柄\n1,1,a,ア,子\n")
    assert e.value.field == "生年月日、性別、住所コード"


def test_two_columns_renamed_onto_one_header_reject_the_file():
    frame, _ = read_export(f"{JUMIN_HEADER},カナ\n{GOOD},ｲｽﾞﾐ\n".encode(), "JUMIN.CSV")
    frame = frame.rename(columns={"カナ": "氏名カナ"})
    with pytest.raises(StructuralError) as e:
        parse_source(SOURCES["juminhyo"], frame, "JUMIN.CSV")
    assert str(e.value) == "JUMIN.CSV:1: 氏名カナ: 見出しが重複しています"


def test_unknown_columns_are_ignored_and_reported_and_optional_columns_may_be_absent():
    header = "備考,宛名番号,世帯番号,氏名,氏名カナ,生年月日,性別,続柄,住所コード,メモ"
    p = jumin("x,0000001,100001,和泉,イズミ,S60.1.1,1,妻,272191000001,y", header=header)
    assert p.ignored_columns == ["備考", "メモ"]
    assert len(p.frame) == 1
    for absent in ("address", "resident_since", "removed_on", "removal_reason"):
        assert pd.isna(p.frame[absent].iloc[0])
    assert p.frame["removed_on"].dtype == "datetime64[ns]"


@pytest.mark.parametrize("change, column, value, reason", [
    (("S60.1.1", "R5.2.30"), "生年月日", "R5.2.30", "日付として読めません"),
    (("S60.1.1", "H31.5.1"), "生年月日", "H31.5.1", "日付として読めません"),
    (("S60.1.1", ""), "生年月日", "", REQUIRED),
    (("S60.1.1", "\u3000"), "生年月日", "\u3000", REQUIRED),
    (("和泉　太郎", ""), "氏名", "", REQUIRED),
    (("0000001", "00A0001"), "宛名番号", "00A0001", "数字以外の文字が含まれています"),
    (("0000001", "0000-001"), "宛名番号", "0000-001", "数字以外の文字が含まれています"),
    (("0000001", "\ue0000001"), "宛名番号", "\ue0000001", "外字（私用領域の文字）が含まれています"),
    (("272191000001", "27219100000\x01"), "住所コード", "27219100000\x01", GARBLED),
    ((",1,世帯主", ",3,世帯主"), "性別", "3", "性別の値が不正です: 3"),
    (("世帯主", "いとこ"), "続柄", "いとこ", "続柄の値が不正です: いとこ"),
    (("和泉市府中町1丁目,,,", "和泉市府中町1丁目,,,転居"), "消除事由", "転居", "許可されていないコードです: 転居"),
    (("和泉市府中町1丁目,,,", "和泉市府中町1丁目,,2024-13-01,"), "消除日", "2024-13-01", "日付として読めません"),
    (("和泉　太郎", "和泉\x00太郎"), "氏名", "和泉\x00太郎", GARBLED),
    (("和泉　太郎", "和泉\ufffd"), "氏名", "和泉\ufffd", GARBLED),
    (("和泉　太郎", "和泉\uf8f0"), "氏名", "和泉\uf8f0", GARBLED),     # cp932's silent misdecode
    (("ｲｽﾞﾐ ﾀﾛｳ", "ｲｽﾞﾐ\x85"), "氏名カナ", "ｲｽﾞﾐ\x85", GARBLED),
])
def test_a_bad_cell_quarantines_its_row_with_line_column_value_and_reason(change, column, value, reason):
    bad = GOOD.replace(*change)
    assert bad != GOOD
    p = jumin(GOOD.replace("0000001", "0000009"), bad, GOOD.replace("0000001", "0000010"))
    assert quarantined(p) == [(3, column, value, reason)]
    assert p.quarantine["file"].tolist() == ["juminhyo.csv"]
    assert p.frame["atena_no"].tolist() == ["0000009", "0000010"]   # the rest imports
    assert p.frame["line_no"].tolist() == [2, 4]
    assert (p.rows_read, p.rows_quarantined) == (3, 1)


def test_one_quarantine_entry_per_bad_cell_and_one_reason_per_cell():
    bad = "00X,100001,和泉,イズミ,R5.2.30,9,世帯主,,,,,"   # id, date, sex bad; 住所コード blank
    p = jumin(GOOD, bad)
    assert quarantined(p) == [
        (3, "宛名番号", "00X", "数字以外の文字が含まれています"),
        (3, "生年月日", "R5.2.30", "日付として読めません"),
        (3, "性別", "9", "性別の値が不正です: 9"),
        (3, "住所コード", "", REQUIRED),
    ]
    assert p.rows_quarantined == 1 and len(p.frame) == 1


def test_private_use_characters_in_names_are_gaiji_not_errors():
    row = GOOD.replace("和泉　太郎", "\ue001田　太郎").replace("和泉市府中町1丁目", "和泉市\ue002町")
    p = jumin(row, GOOD.replace("0000001", "0000002"))
    assert len(p.quarantine) == 0
    assert p.frame["gaiji"].tolist() == [True, False]
    assert p.frame["name"].iloc[0] == "\ue001田　太郎"


def test_gaiji_in_kana_gets_the_marker_in_the_keys_or_the_city_table():
    row = GOOD.replace("ｲｽﾞﾐ ﾀﾛｳ", "\ue001ﾀﾛｳ")
    assert jumin(row).frame["name_kana_strict"].iloc[0] == "〓タロウ"
    p = parse("juminhyo", f"{JUMIN_HEADER}\n{row}\n", gaiji_map={"\ue001": "イズミ"})
    assert p.frame["name_kana_strict"].iloc[0] == "イズミタロウ" and p.frame["gaiji"].iloc[0]


def test_exact_duplicate_rows_are_dropped_after_the_first_and_counted():
    other = GOOD.replace("0000001", "0000002")
    bad = GOOD.replace("S60.1.1", "R5.2.30")
    p = jumin(GOOD, other, GOOD, bad, bad)
    assert p.duplicates_dropped == 2 and p.rows_read == 5
    assert p.frame["line_no"].tolist() == [2, 3]
    assert quarantined(p) == [(5, "生年月日", "R5.2.30", "日付として読めません")]   # reported once


def test_line_numbers_follow_the_file_through_blank_lines():
    p = parse("juminhyo", f"{JUMIN_HEADER}\n\n{GOOD}\n\n\n{GOOD.replace('S60.1.1', 'bad')}\n")
    assert p.frame["line_no"].tolist() == [3]
    assert quarantined(p)[0][0] == 6


def test_without_a_line_index_the_first_data_row_is_line_2():
    raw = pd.DataFrame([GOOD.split(","), GOOD.replace("S60.1.1", "x").split(",")], columns=JUMIN_HEADER.split(","))
    p = parse_source(SOURCES["juminhyo"], raw, "juminhyo.csv")
    assert p.frame["line_no"].tolist() == [2] and quarantined(p)[0][0] == 3


@pytest.mark.parametrize("written, norm", [
    ("長男", "子"), ("長女", "子"), ("二男", "子"), ("次男", "子"), ("二女", "子"), ("次女", "子"), ("三男", "子"),
    ("十一女", "子"), ("養子", "子"), ("養女", "子"), ("子", "子"), ("妻", "妻"), ("子の妻", "子の妻"),
    ("縁故者", "縁故者"), ("その他", "その他"), (" 長男 ", "子"),
])
def test_relations_fold_birth_order_forms_to_child(written, norm):
    p = jumin(GOOD.replace("世帯主", written))
    assert p.frame["relation"].iloc[0] == written.strip()
    assert p.frame["relation_norm"].iloc[0] == norm


@pytest.mark.parametrize("written", ["長", "男", "叔父", "いとこ", "子供", "長男長女"])
def test_unknown_relations_are_row_errors(written):
    assert quarantined(jumin(GOOD.replace("世帯主", written)))[0][1:] == ("続柄", written, f"続柄の値が不正です: {written}")


@pytest.mark.parametrize("written, sex", [("1", 1), ("男", 1), ("2", 2), ("女", 2), ("２", 2), ("男性", 1)])
def test_sex_forms(written, sex):
    assert jumin(GOOD.replace(",1,世帯主", f",{written},世帯主")).frame["sex"].iloc[0] == sex


def test_full_width_digits_in_ids_are_accepted_and_kept_as_digits():
    p = jumin(GOOD.replace("0000001", "０００００１２"))
    assert p.frame["atena_no"].iloc[0] == "0000012"


SHIMINZEI = "宛名番号,課税年度,合計所得金額,所得割額,均等割額,課税区分,ひとり親控除,寡婦控除,扶養親族数"


def test_shiminzei_fiscal_years_amounts_and_flags():
    p = parse("shiminzei", "\n".join([
        SHIMINZEI,
        '0001,令和7,"1,234,567",１２３，４５６,5000,課税,有,無,2',
        "0002,2025,0,,,非課税,,,",
        "0003,R7,△50000,0,5000,均等割のみ,なし,あり,0",
    ]) + "\n")
    f = p.frame
    assert f["tax_year"].dtype == "Int64" and f["tax_year"].tolist() == [2025, 2025, 2025]
    assert f["total_income"].dtype == "Int64" and f["total_income"].tolist() == [1234567, 0, -50000]
    assert f["income_levy"].tolist()[0] == 123456 and pd.isna(f["income_levy"].iloc[1])
    assert f["hitorioya_deduction"].dtype == bool
    assert f["hitorioya_deduction"].tolist() == [True, False, False]
    assert f["widow_deduction"].tolist() == [False, False, True]
    assert "gaiji" not in f.columns     # no name or address fields
    assert len(p.quarantine) == 0


def test_shiminzei_bad_cells():
    p = parse("shiminzei", "\n".join([
        SHIMINZEI,
        "0001,H32,100,,,課税,,,",
        "0002,2025,12.5,,,課税,,,",
        "0003,2025,100,,,免除,,,",
        "0004,2025,100,,,課税,はい,,",
        "0005,2025,,,,課税,,,",
    ]) + "\n")
    assert quarantined(p) == [
        (2, "課税年度", "H32", "年度として読めません"),
        (3, "合計所得金額", "12.5", "数値として読めません"),
        (4, "課税区分", "免除", "許可されていないコードです: 免除"),
        (5, "ひとり親控除", "はい", "有・無以外の値です: はい"),
        (6, "合計所得金額", "", REQUIRED),
    ]
    assert len(p.frame) == 0


TECHO = "宛名番号,手帳種別,等級,交付日,有効期限,返還日"


def test_handbook_grades_are_checked_against_the_handbook_kind():
    p = parse("shogai_techo", "\n".join([
        TECHO,
        "0001,身体,3,R1.5.1,,",
        "0002,身体,6級,R1.5.1,,",
        "0003,精神,２級,R1.5.1,R8.4.30,",
        "0004,療育,Ａ１,R1.5.1,,",
        "0005,療育,b,R1.5.1,,",
        "0006,身体,7級,R1.5.1,,",
        "0007,精神,4,R1.5.1,,",
        "0008,療育,C,R1.5.1,,",
        "0009,難病,1級,R1.5.1,,",
        "0010,身体,,R1.5.1,,",
    ]) + "\n")
    assert p.frame["grade"].tolist() == ["3級", "6級", "2級", "A1", "B"]
    assert quarantined(p) == [
        (7, "等級", "7級", "等級が手帳種別（身体）に合いません: 7級"),
        (8, "等級", "4", "等級が手帳種別（精神）に合いません: 4"),
        (9, "等級", "C", "等級が手帳種別（療育）に合いません: C"),
        (10, "手帳種別", "難病", "許可されていないコードです: 難病"),   # its grade cannot be judged
        (11, "等級", "", REQUIRED),
    ]


def test_codes_are_compared_after_nfkc():
    p = parse("kaigo_nintei", "宛名番号,要介護状態区分,認定有効期間開始日,認定有効期間終了日\n"
                              "0001,要介護１,R6.4.1,R8.3.31\n0002,要介護6,R6.4.1,R8.3.31\n")
    assert p.frame["care_level"].tolist() == ["要介護1"]
    assert quarantined(p) == [(3, "要介護状態区分", "要介護6", "許可されていないコードです: 要介護6")]


def test_kaigo_service_months():
    p = parse("kaigo_service", "宛名番号,サービス種類,サービス提供年月\n0001,訪問介護,R7.4\n0001,通所介護,202504\n"
                               "0002,訪問介護,2025-4-15\n")
    assert p.frame["service_month"].tolist() == [pd.Timestamp("2025-04-01")] * 2
    assert quarantined(p) == [(4, "サービス提供年月", "2025-4-15", "年月として読めません")]


def test_gakureibo_grades_guardian_kana_and_optional_birth_date():
    header = "児童生徒番号,氏名カナ,生年月日,性別,住所コード,住所,学校コード,学校名,学年,保護者氏名カナ"
    p = parse("gakureibo", "\n".join([
        header,
        "1001,ｲｽﾞﾐ ﾊﾅｺ,,2,,,A01,和泉小学校,小3,いずみ　たろう",
        "1002,イズミ ジロウ,H30.6.1,1,272191000001,,B01,和泉中学校,中1,",
        "1003,イズミ サブロウ,H30.6.1,1,,,B01,和泉中学校,9,",
        "1004,イズミ シロウ,H30.6.1,1,,,B01,和泉中学校,高1,",
        "S005,イズミ ゴロウ,H30.6.1,1,,,B01,和泉中学校,中2,",
        "S#006,イズミ ロクロウ,H30.6.1,1,,,B01,和泉中学校,中2,",
    ]) + "\n")
    f = p.frame
    assert f["grade"].dtype == "Int8" and f["grade"].tolist() == [3, 7, 9, 8]
    assert f["pupil_id"].tolist() == ["1001", "1002", "1003", "S005"]
    assert f["guardian_kana_strict"].iloc[0] == "イズミタロウ" and pd.isna(f["guardian_kana_loose"].iloc[1])
    assert pd.isna(f["birth_date"].iloc[0])
    assert f["gaiji"].tolist() == [False] * 4
    # 児童生徒番号 is a school-system key: letters and digits (S005), but not other symbols.
    assert quarantined(p) == [(5, "学年", "高1", "学年の値が不正です: 高1"),
                              (7, "児童生徒番号", "S#006", "英数字とハイフン以外の文字が含まれています")]


def test_online_shinsei_datetimes_are_naive_utc():
    p = parse("online_shinsei", "申請ID,申請者宛名番号,手続きコード,手続き名,申請日時\n"
                                "IZM-7K3P-9QX2,0001,shugaku_enjo,就学援助,2025-04-01 10:30\n"
                                "IZM-7K3P-9QX2,0001,kyufukin,,令和7年4月2日 9時05分\n"
                                "IZM-XXXX-0000,0002,kyufukin,,2025-04-01 25:00\n")
    assert p.frame["applied_at"].tolist() == [pd.Timestamp("2025-04-01 01:30"), pd.Timestamp("2025-04-02 00:05")]
    assert p.frame["application_id"].tolist() == ["IZM-7K3P-9QX2"] * 2
    assert quarantined(p) == [(4, "申請日時", "2025-04-01 25:00", "日時として読めません")]


def test_an_empty_file_body_gives_empty_typed_frames():
    p = jumin()
    assert len(p.frame) == 0 and p.rows_read == 0 and len(p.quarantine) == 0
    assert p.frame["birth_date"].dtype == "datetime64[ns]"
    assert p.quarantine["line"].dtype == "int64"


_VALID = {"id": "0001", "key": "S0001", "text": "和泉", "kana": "イズミ", "date": "R7.4.1", "month": "R7.4", "fy": "R7",
          "int": "１，０００", "sex": "1", "grade": "小1", "flag": "有", "datetime": "2025-04-01 10:30",
          "relation": "長男"}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_parses_a_valid_row_and_quarantines_a_bad_one(name):
    source = SOURCES[name]
    grade_for = {"身体": "1級"}
    good = []
    for c in source.columns:
        if c.kind == "code":
            good.append(c.codes[0])
        elif c.kind == "handbook_grade":
            good.append(grade_for[source.column("handbook_kind").codes[0]])
        else:
            good.append(_VALID[c.kind])
    header = ",".join(c.header for c in source.columns)
    first_required = next(i for i, c in enumerate(source.columns) if c.required)
    bad = list(good)
    bad[first_required] = ""
    p = parse(name, f"{header}\n{','.join(good)}\n{','.join(bad)}\n")
    assert len(p.frame) == 1, p.quarantine
    expected_columns = ["line_no"]
    for c in source.columns:
        expected_columns.append(c.field)
        expected_columns += {"kana": [f"{c.field}_strict", f"{c.field}_loose"], "relation": [f"{c.field}_norm"]}.get(c.kind, [])
    if any(c.kind in ("text", "kana") for c in source.columns):
        expected_columns.append("gaiji")
    assert list(p.frame.columns) == expected_columns
    assert quarantined(p) == [(3, source.columns[first_required].header, "", REQUIRED)]


def test_a_grade_written_as_the_year_within_the_school_is_read_by_the_school_kind():
    header = "児童生徒番号,氏名カナ,生年月日,性別,住所コード,住所,学校コード,学校名,学年,保護者氏名カナ"
    rows = [("P01", "和泉市立和泉中学校", "２年"),      # 中学校 2年 = 中2
            ("P02", "和泉市立光明台小学校", "５年"),     # 小学校 5年 = 小5
            ("P03", "和泉市立光明台小学校", "5年生"),
            ("P04", "南義務教育学校", "7年"),            # 義務教育学校 7年 = 中1
            ("P05", "北小中学校", "8年"),                # a 小中学校 counts 1–9 too, though it ends in 中学校
            ("P06", "和泉市立和泉中学校", "中3"),
            ("P07", "和泉市立和泉中学校", "9"),          # the contract's 1–9
            ("P08", "和泉学園", "2年"),                   # no kind in the name: not guessed
            ("P09", "和泉市立和泉中学校", "4年"),        # a 中学校 has three years
            ("P10", "和泉市立和泉中学校", "小3"),        # a grade this kind of school does not have
            ("P11", "和泉市立和泉中学校", "2"),          # 小2 by the contract: not at a 中学校
            ("P12", "和泉市立光明台小学校", "中1")]
    p = parse("gakureibo", "\n".join([header] + [f"{i},イズミ タロウ,,1,,,X1,{school},{grade}," for i, school, grade in rows])
              + "\n")
    assert dict(zip(p.frame["pupil_id"], p.frame["grade"].tolist())) == {
        "P01": 8, "P02": 5, "P03": 5, "P04": 7, "P05": 8, "P06": 9, "P07": 9}
    assert quarantined(p) == [
        (9, "学年", "2年", "学校名から小学校・中学校の別が分からないため読めません: 2年"),
        (10, "学年", "4年", "学年の値が不正です: 4年"),
        (11, "学年", "小3", "学年が学校の種別（中学校）に合いません: 小3"),
        (12, "学年", "2", "学年が学校の種別（中学校）に合いません: 2"),
        (13, "学年", "中1", "学年が学校の種別（小学校）に合いません: 中1")]
