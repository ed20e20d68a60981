"""Readers and writers for every supported format, atomic writes and undecodable input."""

from __future__ import annotations

import json

import polars as pl
import pytest

from relabel.data.io import read_table
from relabel.data.write import write_table
from relabel.errors import RelabelInputError

FRAME = pl.DataFrame({"text": ["a b", "c, d", "e\"f"], "label": ["x", "y", "x"],
                      "extra": ["1", "2", "3"]})


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".jsonl", ".json", ".parquet", ""])
def test_round_trip(tmp_path, ext):
    path = tmp_path / f"data{ext}"
    write_table(FRAME, path)
    table, fmt = read_table(path)
    assert fmt == {"": "hf"}.get(ext, ext.lstrip("."))
    assert table.select(FRAME.columns).equals(FRAME)


def test_csv_values_pass_through_as_strings(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label,score\nhi,1,0.50\n", encoding="utf-8")
    table, _ = read_table(path)
    assert table.row(0) == ("hi", "1", "0.50")


def test_bom_is_stripped_from_header(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("\ufefftext,label\nhi,a\n".encode())
    table, _ = read_table(path)
    assert table.columns == ["text", "label"]


def test_missing_file(tmp_path):
    with pytest.raises(RelabelInputError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_unknown_extension(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    with pytest.raises(RelabelInputError, match=r"data\.xlsx.*unknown file extension '\.xlsx'"):
        read_table(path)


def test_undecodable_bytes_name_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,label\nfine,a\nbad \xff\xfe byte,b\n")
    with pytest.raises(RelabelInputError, match=r"bad\.csv: line 3: undecodable bytes"):
        read_table(path)


@pytest.mark.parametrize("encoding, said", [("cp1252", "Windows-1252 / Latin-1"),
                                            ("utf-16", "UTF-16")])
def test_a_file_in_another_encoding_says_how_to_convert_it(tmp_path, encoding, said):
    path = tmp_path / "excel.csv"
    path.write_bytes("text,label\ncafé crème,a\nnaïve,b\n".encode(encoding))
    with pytest.raises(RelabelInputError) as err:
        read_table(path)
    assert said in str(err.value)
    assert f"pass encoding={encoding!r}, or convert it" in str(err.value)
    assert f"iconv -f {encoding} -t utf-8 excel.csv > utf8-excel.csv" in str(err.value)
    # read as it is, with its encoding named; the file is not touched
    before = path.read_bytes()
    table, fmt = read_table(path, encoding=encoding)
    assert fmt == "csv" and table["text"].to_list() == ["café crème", "naïve"]
    assert path.read_bytes() == before


def test_encoding_errors_name_the_file_line_and_the_encoding(tmp_path):
    from relabel.data.encoding import check_encoding

    path = tmp_path / "mixed.csv"
    path.write_bytes(b"text,label\nok,a\n" + b"\x81\x8d,b\n")  # undefined in cp1252
    with pytest.raises(RelabelInputError, match=r"mixed\.csv: line 3: bytes that are not cp1252 "
                                                r"at byte offset 16; is encoding right\?"):
        read_table(path, encoding="cp1252")
    # an error of the UTF-8 copy is named by the user's file, with its line
    ragged = tmp_path / "ragged.csv"
    ragged.write_bytes("text,label\ncafé,a\nx,b,c\n".encode("cp1252"))
    with pytest.raises(RelabelInputError, match=r"^.*ragged\.csv: line 3: 3 fields where the "
                                                r"header has 2"):
        read_table(ragged, encoding="cp1252")
    with pytest.raises(RelabelInputError, match="unknown encoding 'latin-9x'"):
        check_encoding("latin-9x")
    assert check_encoding("latin-1") == "iso8859-1"


def test_utf16_named_for_a_file_without_its_byte_order_mark_is_one_line(tmp_path):
    """Python's UTF-16 decoder raises a bare UnicodeError (not a decode error) on a file that
    does not start with a byte-order mark: it reached the user as a traceback."""
    path = tmp_path / "plain.csv"
    path.write_text("text,label\nhello,a\n", encoding="utf-8")
    with pytest.raises(RelabelInputError, match=r"plain\.csv: line 1: bytes that are not "
                                                r"utf-16 at byte offset 0; is encoding right"):
        read_table(path, encoding="utf-16")


def test_a_reviews_file_in_another_encoding_is_not_told_to_pass_encoding(tmp_path):
    """``--encoding`` is the data's; a reviews CSV a spreadsheet saved is to be converted."""
    from relabel.review.reviews import read_review_source

    path = tmp_path / "reviews.csv"
    path.write_bytes("id,reviewed_label\n1,café\n".encode("cp1252"))
    with pytest.raises(RelabelInputError) as err:
        read_review_source(path)
    assert "iconv -f cp1252 -t utf-8 reviews.csv" in str(err.value)
    assert "--encoding" not in str(err.value)


def test_a_sheet_saved_by_a_spreadsheet_program_reads_without_its_padding(tmp_path):
    """Spreadsheet programs pad a saved sheet with unnamed empty columns (``a,b,,``) and empty
    rows at the end (``,,,``); before, the header's two '' names failed as a repeated column,
    and the empty rows as empty labels."""
    path = tmp_path / "sheet.csv"
    path.write_bytes(b"id,text,label,,\r\n1,hello there,a,,\r\n2,general kenobi,b,,\r\n"
                     b",,,,\r\n,, ,,\r\n")
    table, _ = read_table(path)
    assert table.columns == ["id", "text", "label"]
    assert table["id"].to_list() == ["1", "2"]
    # a column without a name that holds values is kept (pandas' to_csv writes its index so)
    index = tmp_path / "pandas.csv"
    index.write_text(",text,label\n0,hello,a\n1,there,b\n", encoding="utf-8")
    assert read_table(index)[0].columns == ["", "text", "label"]
    # two of them: which is which?
    two = tmp_path / "two.csv"
    two.write_text(",text,label,\n0,hello,a,x\n", encoding="utf-8")
    with pytest.raises(RelabelInputError, match=r"2 columns without a name hold values "
                                                r"\(columns 1, 4\); name them"):
        read_table(two)
    # an empty row between records stays, to be reported by its line
    mid = tmp_path / "mid.csv"
    mid.write_text("text,label\nhello,a\n,\nthere,b\n", encoding="utf-8")
    assert read_table(mid)[0].height == 3


def test_a_csv_with_classic_mac_line_ends_reads_its_rows(tmp_path):
    """Lines ending in a bare carriage return (Excel for Mac's "CSV (Macintosh)") read as
    one header and no rows: "dataset is empty". They are read through a copy with the same
    lines, so an error still names the user's file and line."""
    from relabel.data.io import _lf_copy

    path = tmp_path / "mac.csv"
    path.write_bytes(b'text,label\rhello,a\r"two\rlines",b\rthird,c\r')
    table, fmt = read_table(path)
    assert fmt == "csv" and table["text"].to_list() == ["hello", "two\nlines", "third"]
    assert path.read_bytes().count(b"\n") == 0  # the input is not touched
    ragged = tmp_path / "ragged.csv"
    ragged.write_bytes(b"text,label\rhello,a\rx,b,c\r")
    with pytest.raises(RelabelInputError, match=r"ragged\.csv: line 3: 3 fields"):
        read_table(ragged)
    # a \r\n split between two chunks of the copy is one line end, not two
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"ab\r\ncd\ref\r")
    with _lf_copy(mixed, chunk_size=3) as copy:
        assert copy.read_bytes() == b"ab\ncd\nef\n"


def test_a_semicolon_csv_is_read_so_and_its_errors_name_their_line(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text('text;label\n"a; quoted, text";x\nplain, with comma;y\n', encoding="utf-8")
    table, fmt = read_table(path)
    assert fmt == "csv-semicolon" and table.columns == ["text", "label"]
    assert table["text"].to_list() == ["a; quoted, text", "plain, with comma"]
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text;label\nok;a\nx;b;c\n", encoding="utf-8")
    with pytest.raises(RelabelInputError, match=r"ragged\.csv: line 3: 3 fields"):
        read_table(ragged)
    # a text file under another extension is told which one to take
    txt = tmp_path / "data.txt"
    txt.write_text("text\tlabel\nhello\ta\n", encoding="utf-8")
    with pytest.raises(RelabelInputError, match=r"tab-separated: name it data\.tsv"):
        read_table(txt)


def test_csv_record_with_extra_fields_names_its_line(tmp_path):
    # the third record (line 5: a quoted field spans lines 2-3) has a field too many
    path = tmp_path / "ragged.csv"
    path.write_text('id,text,label\n1,"two\nlines",a\n2,ok,b\n3,"x",b,c\n', encoding="utf-8")
    with pytest.raises(RelabelInputError,
                       match=r"ragged\.csv: line 5: 4 fields where the header has 3"):
        read_table(path)


def test_malformed_jsonl_is_one_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(RelabelInputError) as exc:
        read_table(path)
    assert "\n" not in str(exc.value) and "bad.jsonl" in str(exc.value)
    assert "bad.jsonl: line 2: not valid JSON" in str(exc.value)  # the line, not a byte offset
    path.write_text('{"text": "a", "label": "x"}\n\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(RelabelInputError, match=r"bad\.jsonl: line 3: not a JSON object"):
        read_table(path)
    # a list on one line, a single value on another: polars said "failed to determine
    # supertype of struct[2] and struct[2]"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": null}\n'
                    '{"text": "c", "label": [1, 2]}\n', encoding="utf-8")
    with pytest.raises(RelabelInputError, match=r"bad\.jsonl: line 3, key 'label': a list "
                                                r"where line 1 has a single value; .* "
                                                r"multi-label data is not supported"):
        read_table(path)
    array = tmp_path / "bad.json"
    array.write_text('[{"text": "a", "tags": {"x": 1}}, {"text": "b", "tags": "x"}]',
                     encoding="utf-8")
    with pytest.raises(RelabelInputError, match=r"bad\.json: record 2, key 'tags': a single "
                                                r"value where record 1 has an object; a field "
                                                r"must hold one kind of value in every record$"):
        read_table(array)


@pytest.mark.parametrize("suffix, opener", [(".gz", "gzip"), (".bz2", "bz2"), (".xz", "lzma")])
def test_a_compressed_file_reads_as_the_file_it_holds_and_writes_back_so(tmp_path, suffix,
                                                                         opener):
    """data.csv.gz is read as the CSV it holds (its checks and row numbers too), and an
    output named cleaned.csv.gz is written compressed, in the input's layout and line ends."""
    import importlib

    from relabel.data.io import file_layout
    from relabel.data.write import newline_of, output_format

    mod = importlib.import_module(opener)
    text = "id;text;label\r\n1;a b;x\r\n2;c d;y\r\n"  # a semicolon CSV with CRLF
    path = tmp_path / f"data.csv{suffix}"
    with mod.open(path, "wb") as fh:
        fh.write(text.encode())
    before = path.read_bytes()
    table, fmt = read_table(path)
    assert fmt == "csv-semicolon" and table.rows() == [("1", "a b", "x"), ("2", "c d", "y")]
    assert file_layout(path) == "csv-semicolon" and newline_of(path) == "\r\n"
    out = tmp_path / f"clean.csv{suffix}"
    write_table(table, out, output_format(out, fmt), newline=newline_of(path))
    with mod.open(out, "rb") as fh:
        assert fh.read().decode() == text
    assert path.read_bytes() == before
    # the format's own checks, with the rows of the file it holds
    with mod.open(path, "wb") as fh:
        fh.write(b"text,label\na,x\nb,y,z\n")
    with pytest.raises(RelabelInputError, match=rf"data\.csv\{suffix}: line 3: 3 fields where the "
                                                 "header has 2"):
        read_table(path)


def test_a_compressed_file_that_cannot_be_read_is_one_line(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(b"\x1f\x8b")  # cut off after the magic number
    with pytest.raises(RelabelInputError, match=r"data\.csv\.gz: cannot decompress it as "
                                                r"'\.gz' .*is the file complete"):
        read_table(path)
    with pytest.raises(RelabelInputError, match=r"data\.gz: a compressed file \('\.gz'\) of "
                                                r"unknown format '': name it after the file it "
                                                r"holds, as in data\.csv\.gz"):
        (tmp_path / "data.gz").write_bytes(b"")
        read_table(tmp_path / "data.gz")
    # a hint naming the file names the user's, not the decompressed copy
    import gzip

    (tmp_path / "tabs.txt.gz").write_bytes(gzip.compress(b"text\tlabel\nhi\tx\n"))
    with pytest.raises(RelabelInputError, match=r"tabs\.txt\.gz: line 1: .*its first line is "
                                                r"tab-separated: name it tabs\.tsv$"):
        read_table(tmp_path / "tabs.txt.gz")
    (tmp_path / "data.zip").write_bytes(b"PK")
    with pytest.raises(RelabelInputError, match=r"data\.zip: a compressed file \('\.zip'\): "
                                                r"decompress it first .* the data it holds"):
        read_table(tmp_path / "data.zip")


def test_a_directory_of_parquet_files_is_one_table(tmp_path):
    from relabel.data.io import file_layout

    d = tmp_path / "t"
    d.mkdir()
    pl.DataFrame({"text": ["c"], "label": ["y"]}).write_parquet(d / "part-1.parquet")
    pl.DataFrame({"text": ["a", "b"], "label": ["x", "y"]}).write_parquet(d / "part-0.parquet")
    table, fmt = read_table(d)
    assert fmt == "parquet-dir" == file_layout(d) and table["text"].to_list() == ["a", "b", "c"]
    pl.DataFrame({"label": ["z"], "text": ["d"]}).write_parquet(d / "part-2.parquet")
    assert read_table(d)[0].rows()[-1] == ("d", "z")  # the same columns in another order
    pl.DataFrame({"text": ["d"], "category": ["z"]}).write_parquet(d / "part-2.parquet")
    with pytest.raises(RelabelInputError, match=r"part-2\.parquet: its columns \(text, "
                                                r"category\) are not those of part-0\.parquet"):
        read_table(d)
    # a relabel run directory holds Parquet files too: it is not read as a dataset
    (d / "part-2.parquet").unlink()
    (d / "run.json").write_text("{}")
    (d / "scores.parquet").write_bytes((d / "part-0.parquet").read_bytes())
    with pytest.raises(RelabelInputError, match="this is a relabel run directory"):
        read_table(d)


def test_dataset_dict_points_to_split(tmp_path):
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"]})})
    dd.save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(RelabelInputError, match="one of: train"):
        read_table(tmp_path / "dd")


def test_a_folder_of_data_files_names_them(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("train.csv", "test.csv", "notes.txt"):
        (folder / name).write_text("text,label\na,x\n", encoding="utf-8")
    with pytest.raises(RelabelInputError, match=r"data: directory is not a Hugging Face "
                                                r"dataset .*\(no state\.json\); it holds "
                                                r"test\.csv, train\.csv: give one of those"):
        read_table(folder)


def test_write_is_atomic_on_failure(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")

    class Boom(pl.DataFrame):
        def write_csv(self, *a, **k):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_table(Boom(FRAME), path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_noise_keeps_class_label_features_of_a_dataset_directory(tmp_path):
    import datasets
    from typer.testing import CliRunner

    from relabel.cli import app
    from tests.conftest import make_text_dataset

    df = make_text_dataset(n_per_class=20, flip=0, seed=2)
    names = sorted(set(df["label"]))
    feature = datasets.ClassLabel(names=names)
    ds = datasets.Dataset.from_dict(
        {"text": df["text"].to_list(), "label": [names.index(x) for x in df["label"]]},
        features=datasets.Features({"text": datasets.Value("string"), "label": feature}))
    ds.save_to_disk(str(tmp_path / "ds"))
    r = CliRunner().invoke(app, ["noise", str(tmp_path / "ds"), "--to", str(tmp_path / "noisy"),
                                 "--rate", "0.2", "--seed", "0"])
    assert r.exit_code == 0, r.output
    out = datasets.load_from_disk(str(tmp_path / "noisy"))
    assert out.features == datasets.Features({**ds.features, "true_label": feature})
    assert out["true_label"][:] == ds["label"][:]
    assert 0 < sum(a != b for a, b in zip(out["label"], ds["label"], strict=True)) < len(ds)


@pytest.mark.parametrize("name,body", [
    ("d.jsonl", '{"text": "a b", "label": "x"}\r\n{"text": "c d", "label": "y"}\r\n'),
    ("d.json", '[{"text": "a b", "label": "x"}, {"text": "c d", "label": "y"}]'),
    ("d.csv", "text,label\r\na b,x\r\nc d,y\r\n"),
    ("k.json", '{"0": {"label": "x", "data": {"text": "a b"}}, '
               '"1": {"label": "y", "data": {"text": "c d"}}}'),
    ("ls.json", json.dumps([
        {"id": 7 + i, "data": {"text": t}, "annotations": [{"id": i, "completed_by": 1, "result": [
            {"from_name": "c", "type": "choices", "value": {"choices": [lab]}}]}]}
        for i, (t, lab) in enumerate([("a b", "x"), ("c d", "y")])])),
])
def test_a_byte_order_mark_is_read_past(tmp_path, name, body):
    """Files saved by Windows tools start with a UTF-8 byte order mark; every reader skips it
    (a JSON Lines file with one failed with a parser error at character 0)."""
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    table, fmt = read_table(path)
    text = "data.text" if name == "k.json" else "text"
    assert table[text].to_list() == ["a b", "c d"] and table["label"].to_list() == ["x", "y"]
    assert fmt == {"k.json": "json-keyed", "ls.json": "label-studio-json"}.get(
        name, name.split(".")[1])


def test_a_run_directory_given_as_data_says_what_it_is(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}", encoding="utf-8")
    pl.DataFrame({"id": ["a"]}).write_parquet(run / "scores.parquet")
    with pytest.raises(RelabelInputError, match=r"run: this is a relabel run directory, not a "
                                                r"dataset: `relabel export`"):
        read_table(run)


def test_noise_reads_and_writes_a_file_in_its_own_encoding(tmp_path):
    from relabel.data.noise import write_noisy_copy

    src = tmp_path / "excel.csv"
    src.write_bytes(("text,label\n" + "".join(f"café {i},{'ab'[i % 2]}é\n" for i in range(40)))
                    .encode("cp1252"))
    res = write_noisy_copy(src, tmp_path / "noisy.csv", rate=0.25, encoding="cp1252")
    assert res["flipped"] == 10
    out, _ = read_table(tmp_path / "noisy.csv", encoding="cp1252")
    assert out["text"].to_list() == [f"café {i}" for i in range(40)]
    assert (out["label"] != out["true_label"]).sum() == 10
    with pytest.raises(UnicodeDecodeError):
        (tmp_path / "noisy.csv").read_bytes().decode("utf-8")


def test_the_line_end_of_a_file_is_read_in_its_encoding(tmp_path):
    from relabel.data.write import newline_of

    cases = {"lf.csv": (b"a,b\n1,2\n", None, "\n"), "crlf.csv": (b"a,b\r\n1,2\r\n", None, "\r\n"),
             "cr.csv": (b"a,b\r1,2\r", None, "\r"),
             "u16.csv": ("a,b\r\n1,2\r\n".encode("utf-16"), "utf-16", "\r\n")}
    for name, (raw, encoding, want) in cases.items():
        (tmp_path / name).write_bytes(raw)
        assert newline_of(tmp_path / name, encoding) == want, name
    assert newline_of(None) == "\n" and newline_of(tmp_path / "missing.csv") == "\n"
    (tmp_path / "binary.parquet").write_bytes(b"PAR1\r\x00\n")  # any bytes: not a text file
    assert newline_of(tmp_path / "binary.parquet") == "\n"


@pytest.mark.parametrize("sep, newline", [(",", "\n"), (";", "\r\n")])
def test_a_pandas_index_column_round_trips_byte_for_byte(tmp_path, sep, newline):
    """pandas' to_csv writes its index under an empty name (``,text,label``); written back,
    the header is the same bytes (polars alone quotes the empty name)."""
    from relabel.data.write import newline_of, output_format

    text = newline.join([f"{sep}text{sep}label", f"0{sep}a b{sep}x", f"1{sep}c{sep}y", ""])
    path = tmp_path / "pandas.csv"
    path.write_bytes(text.encode())
    table, fmt = read_table(path)
    assert table.columns == ["", "text", "label"]
    out = tmp_path / "out.csv"
    write_table(table, out, output_format(out, fmt), newline=newline_of(path))
    assert out.read_bytes() == path.read_bytes()


def test_fasttext_lines_round_trip(tmp_path):
    """A .txt of fastText lines is read as label and text (a blank line as an empty row), and
    written back byte for byte; a tab after the label reads the same and is written as a
    space."""
    from relabel.data.write import newline_of, output_format

    text = "__label__pos great film\r\n__label__neg  two spaces kept\r\n\r\n__label__pos\tok\r\n"
    path = tmp_path / "train.txt"
    path.write_bytes((text + "\r\n\r\n").encode())  # blank lines at the end are left out
    table, fmt = read_table(path)
    assert fmt == "fasttext" and table.rows() == [
        ("pos", "great film"), ("neg", " two spaces kept"), (None, None), ("pos", "ok")]
    out = tmp_path / "clean.txt"
    write_table(table, out, output_format(out, fmt), newline=newline_of(path))
    assert out.read_bytes() == text.replace("\t", " ").encode()


@pytest.mark.parametrize("content, message", [
    ("__label__a __label__b both\n", r"line 1: several labels \(__label__a, __label__b, ...\): "
                                     "multi-label data is not supported"),
    ("__label__a fine\nno prefix here\n", r"line 2: no '__label__' at the start"),
    ("text,label\nhi,x\n", r"line 1: no '__label__' at the start: a \.txt file is read as "
                           r"fastText lines, __label__<class> <text>; its first line looks "
                           r"comma-separated: name it d\.csv"),
])
def test_bad_fasttext_lines_are_one_line(tmp_path, content, message):
    path = tmp_path / "d.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RelabelInputError, match=message):
        read_table(path)


def test_a_table_with_more_columns_is_not_written_as_fasttext(tmp_path):
    table = pl.DataFrame({"id": ["1"], "text": ["a"], "label": ["x"]})
    with pytest.raises(RelabelInputError, match=r"out\.txt: a \.txt file is written as fastText "
                                                r"lines.*this table has 'id', 'text', 'label'"):
        write_table(table, tmp_path / "out.txt")
    # nor a label with a space (a class a reviewer added): it would read back as another
    spaced = pl.DataFrame({"label": ["a", "not spam"], "text": ["x", "y"]})
    with pytest.raises(RelabelInputError, match=r"out\.txt, row 2, column 'label': a fastText "
                                                r"label cannot hold a space or tab \('not spam'\)"):
        write_table(spaced, tmp_path / "out.txt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, content", [
    ("excel.csv", b"\xef\xbb\xbfid,text,label\r\n1,caf\xc3\xa9,x\r\n2,b,y\r\n"),
    ("excel.csv.gz", b"\xef\xbb\xbfid;text;label\n1;a;x\n2;b;y\n"),
    ("plain.tsv", b"id\ttext\tlabel\n1\ta\tx\n"),
])
def test_written_back_as_the_input_was_written_byte_for_byte(tmp_path, name, content):
    """Excel's "CSV UTF-8" starts with a byte-order mark, and Excel reads a UTF-8 file without
    one as another encoding: a written-back file keeps it, with the line ends and the
    separator (write_like, as export, noise --to and consensus --to write)."""
    import gzip

    from relabel.data.write import output_format, utf8_bom, write_like

    path = tmp_path / name
    path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
    table, fmt = read_table(path)
    assert table.columns == ["id", "text", "label"]  # the mark is not part of a name
    assert utf8_bom(path) == content.startswith(b"\xef\xbb\xbf")
    out = tmp_path / ("out" + "".join(path.suffixes))
    write_like(table, out, output_format(out, fmt), path)
    written = out.read_bytes()
    assert (gzip.decompress(written) if name.endswith(".gz") else written) == content


def test_nested_columns_are_written_to_csv_as_json_text(tmp_path):
    """A JSON input's records and lists (LeWiDi's ``other_info``) cannot be CSV cells as they
    are: they are written as JSON text, by every CSV relabel writes."""
    from relabel.data.write import nested_as_json, write_report_csv, write_table

    table = pl.DataFrame({"info": [{"group": ["a", "b"], "note": 'say "hi"'}, None],
                          "tags": [["x", "y"], None], "n": [1, 2]})
    encoded = nested_as_json(table)
    assert encoded["info"].to_list() == ['{"group":["a","b"],"note":"say \\"hi\\""}', None]
    assert encoded["tags"].to_list() == ['["x","y"]', None] and encoded["n"].to_list() == [1, 2]
    for write in (lambda p: write_table(table, p), lambda p: write_report_csv(table, p)):
        path = tmp_path / "out.csv"
        write(path)
        back = pl.read_csv(path)
        assert [json.loads(v) if v else None for v in back["info"]] == [
            {"group": ["a", "b"], "note": 'say "hi"'}, None]
        assert back["tags"].to_list() == ['["x","y"]', None]
