"""read_export: encoding detection, CSV structure, line numbers; the text checks; the error types."""
from __future__ import annotations

import pickle

import pandas as pd
import pytest

from notifier.ingest.decode import (
    QuarantineRow,
    StructuralError,
    garbled_text_mask,
    map_distinct,
    parse_distinct,
    private_use_mask,
    read_export,
    suspicious_rows,
    suspicious_text_mask,
    text_masks,
)


def read(text: str, encoding: str = "utf-8", file: str = "juminhyo.csv"):
    return read_export(text.encode(encoding), file)


def test_it_reads_utf8_without_bom():
    frame, encoding = read("宛名番号,氏名\n0001,山田\n")
    assert encoding == "utf-8"
    assert frame.to_dict("records") == [{"宛名番号": "0001", "氏名": "山田"}]


def test_it_reads_utf8_with_bom_and_drops_the_bom_from_the_first_header():
    frame, encoding = read_export("\ufeff宛名番号,氏名\n0001,山田\n".encode("utf-8"), "x.csv")
    assert encoding == "utf-8-sig"
    assert list(frame.columns) == ["宛名番号", "氏名"]


def test_it_reads_cp932_with_the_characters_shift_jis_gets_wrong():
    # ① 0x8740, 髙 0xFBFC, ～ 0x8160 (cp932 gives U+FF5E where shift_jis gives U+301C)
    frame, encoding = read("宛名番号,氏名,住所\n0001,髙橋①,1～2\n", "cp932")
    assert encoding == "cp932"
    assert frame.iloc[0].tolist() == ["0001", "髙橋①", "1\uff5e2"]


def test_cp932_user_defined_bytes_become_private_use_characters():
    raw = "宛名番号,氏名\n0001,".encode("cp932") + b"\xf0\x40" + "田\n".encode("cp932")
    frame, encoding = read_export(raw, "juminhyo.csv")
    assert encoding == "cp932"
    assert frame["氏名"].iloc[0] == "\ue000田"
    assert suspicious_text_mask(frame["氏名"]).tolist() == [True]
    assert garbled_text_mask(frame["氏名"]).tolist() == [False]


def test_cp932_stray_bytes_decode_silently_but_are_flagged_as_garbled():
    raw = "宛名番号,氏名\n0001,".encode("cp932") + b"\xfd\x80" + "\n".encode("cp932")
    frame, _ = read_export(raw, "juminhyo.csv")
    assert frame["氏名"].iloc[0] == "\uf8f1\x80"
    assert garbled_text_mask(frame["氏名"]).tolist() == [True]


def test_every_value_is_a_string_and_blanks_are_empty_strings():
    frame, _ = read("宛名番号,消除日,扶養親族数\n0001,,3\n0002,NA,\n")
    assert frame.to_dict("records") == [{"宛名番号": "0001", "消除日": "", "扶養親族数": "3"},
                                        {"宛名番号": "0002", "消除日": "NA", "扶養親族数": ""}]
    assert all(pd.api.types.is_string_dtype(frame[c]) for c in frame.columns)


def test_header_names_are_stripped_of_whitespace_including_ideographic_space():
    frame, _ = read(" 宛名番号 ,\u3000氏名\u3000,\t性別\n1,a,1\n")
    assert list(frame.columns) == ["宛名番号", "氏名", "性別"]


def test_the_index_is_the_physical_line_number():
    frame, _ = read("宛名番号,氏名\n0001,a\n0002,b\n")
    assert frame.index.name == "line"
    assert frame.index.tolist() == [2, 3]


def test_blank_lines_and_rows_of_empty_cells_are_dropped_but_lines_still_count():
    frame, _ = read("宛名番号,氏名\r\n0001,a\r\n\r\n,\r\n0002,b\r\n \r\n0003,c\r\n\r\n\r\n")
    assert frame["宛名番号"].tolist() == ["0001", "0002", "0003"]
    assert frame.index.tolist() == [2, 5, 7]


def test_a_row_with_only_its_first_cell_blank_is_kept():
    frame, _ = read("宛名番号,氏名\n,a\n0002,b\n")
    assert frame["氏名"].tolist() == ["a", "b"] and frame.index.tolist() == [2, 3]


def test_a_line_break_inside_quotes_keeps_later_line_numbers_true():
    frame, _ = read('宛名番号,住所\n0001,"府中町\n1丁目"\n0002,b\n')
    assert frame["住所"].tolist() == ["府中町\n1丁目", "b"]
    assert frame.index.tolist() == [2, 4]


def test_quoted_commas_and_doubled_quotes_are_read_as_csv():
    frame, _ = read('宛名番号,住所\n0001,"和泉市,府中町 ""1"""\n')
    assert frame["住所"].iloc[0] == '和泉市,府中町 "1"'


def test_a_header_only_file_gives_an_empty_frame_with_the_columns():
    frame, _ = read("宛名番号,氏名\n")
    assert list(frame.columns) == ["宛名番号", "氏名"] and len(frame) == 0


def test_blank_header_names_get_a_placeholder():
    frame, _ = read("宛名番号,,氏名\n1,x,a\n")
    assert list(frame.columns) == ["宛名番号", "(見出しなし2列目)", "氏名"]


@pytest.mark.parametrize("text, line, field, reason", [
    ("宛名番号,氏名\n0001,a\n0002,b,c\n", 3, None, "列の数が見出し行と合いません（見出し 2 列、この行 3 列）"),
    ("宛名番号,氏名,性別\n0001,a,1\n\n0002,b\n", 4, None, "列の数が見出し行と合いません（見出し 3 列、この行 2 列）"),
    ('宛名番号,氏名\n0001,a\n0002,"b\n0003,c\n', 3, None, "CSV として読めません"),
    ("宛名番号,氏名,宛名番号\n1,2,3\n", 1, "宛名番号", "見出しが重複しています"),
    ("", 1, None, "ファイルが空です"),
    ("\n\n", 1, None, "ファイルが空です"),
])
def test_structural_problems_name_file_line_and_field(text, line, field, reason):
    with pytest.raises(StructuralError) as e:
        read(text, file="juminhyo.csv")
    assert (e.value.file, e.value.line, e.value.field) == ("juminhyo.csv", line, field)
    assert e.value.reason.startswith(reason)
    assert str(e.value).startswith(f"juminhyo.csv:{line}: ")


def test_bytes_that_are_neither_utf8_nor_cp932_reject_the_file_with_their_line():
    raw = "宛名番号,氏名\n0001,a\n".encode("cp932") + b"0002,\x81\x20\n"
    with pytest.raises(StructuralError) as e:
        read_export(raw, "juminhyo.csv")
    assert (e.value.line, e.value.field) == (3, None)
    assert "文字コードを判定できません" in e.value.reason and "0x81" in e.value.reason


def test_utf16_is_refused_with_a_reason():
    with pytest.raises(StructuralError, match="UTF-16"):
        read_export("宛名番号\n1\n".encode("utf-16"), "juminhyo.csv")


def test_structural_error_formats_as_file_line_field_reason_and_pickles():
    e = StructuralError("juminhyo.csv", 1, "生年月日", "必須の列がありません")
    assert str(e) == "juminhyo.csv:1: 生年月日: 必須の列がありません"
    assert str(StructuralError("a.csv", None, None, "ファイルが空です")) == "a.csv: ファイルが空です"
    assert str(StructuralError("a.csv", 3, None, "x")) == "a.csv:3: x"
    again = pickle.loads(pickle.dumps(e))
    assert (again.file, again.line, again.field, again.reason) == (e.file, e.line, e.field, e.reason)


def test_quarantine_row_formats_like_a_structural_error():
    row = QuarantineRow("juminhyo.csv", 12, "生年月日", "R5.2.30", "日付として読めません")
    assert str(row) == "juminhyo.csv:12: 生年月日: 日付として読めません"


@pytest.mark.parametrize("value, suspicious, garbled, private", [
    ("山田太郎", False, False, False),
    ("ヤマダ\tタロウ", False, False, False),   # tab is allowed
    ("\ue000田", True, False, True),           # 外字
    ("\uf8ff", True, False, True),
    ("\uf8f0", True, True, True),              # cp932 misdecode of 0xA0
    ("\uf8f3", True, True, True),
    ("山\ufffd", True, True, False),
    ("a\x00", True, True, False),
    ("a\nb", True, True, False),
    ("a\x7f", True, True, False),
    ("a\x85", True, True, False),              # C1
    ("\U000f0001", True, False, True),         # supplementary private use
    ("", False, False, False),
])
def test_text_masks(value, suspicious, garbled, private):
    s = pd.Series([value], dtype="str")
    assert suspicious_text_mask(s).tolist() == [suspicious]
    assert garbled_text_mask(s).tolist() == [garbled]
    assert private_use_mask(s).tolist() == [private]


def test_masks_treat_missing_as_clean_and_keep_the_index():
    s = pd.Series(["a", None, "\ufffd"], index=[7, 8, 9], dtype="str")
    assert suspicious_text_mask(s).to_dict() == {7: False, 8: False, 9: True}


def test_suspicious_rows_look_at_every_column_and_ignore_tabs_and_missing_cells():
    frame = pd.DataFrame({"a": ["x", "y\t", None, "w", "v"], "b": ["1", "2", "3", "\ue000", None],
                          "c": ["", "", "", "", "\x85"]}, dtype="str")
    assert suspicious_rows(frame).tolist() == [False, False, False, True, True]
    assert suspicious_rows(frame[[]]).tolist() == [False] * 5


def test_text_masks_tell_garbling_from_gaiji():
    garbled, private = text_masks(pd.Series(["\ufffd", "\ue000", "a", "\uf8f1"], dtype="str"))
    assert garbled.tolist() == [True, False, False, True] and private.tolist() == [False, True, False, True]


def test_map_distinct_calls_once_per_distinct_value_and_keeps_the_index():
    seen = []

    def upper(u):
        seen.append(len(u))
        return u.str.upper()

    s = pd.Series(["a", "b", "a", None, "a"], index=[10, 11, 12, 13, 14])
    out = map_distinct(s, upper)
    assert seen == [3]  # "a", "b" and the blank
    assert out.to_dict() == {10: "A", 11: "B", 12: "A", 13: "", 14: "A"}


def test_parse_distinct_separates_blank_from_bad():
    s = pd.Series([" 1 ", "", "x", "　", "１"], index=list("abcde"))
    values, bad = parse_distinct(s, lambda t: pd.to_numeric(t, errors="coerce"))
    assert values.tolist()[0] == 1 and values.tolist()[4] == 1
    assert bad.to_dict() == {"a": False, "b": False, "c": True, "d": False, "e": False}
