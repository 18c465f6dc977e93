import pytest

from prognos.evaluate.report import table


def test_a_table_aligns_words_left_and_figures_right():
    out = table("model | F1", "lr", ["deep | 0.812", "pca | 0.614"])
    assert out.splitlines() == ["| model | F1 |", "| --- | ---: |", "| deep | 0.812 |", "| pca | 0.614 |"]


def test_a_row_with_the_wrong_number_of_cells_is_refused():
    with pytest.raises(ValueError, match="2 columns expected: 'deep'"):
        table("model | F1", "lr", ["deep"])
