import pytest

from lib.book.slugger import Slugger, slug

# From github-slugger's own fixtures (test/fixtures.json), in order: one slugger sees them all.
GITHUB_SLUGGER_SEQUENCE = [
    ("alpha", "alpha"),
    ("alpha", "alpha-1"),
    ("bravoCharlieDelta", "bravocharliedelta"),
    ("__proto__", "__proto__"),
    ("__proto__", "__proto__-1"),
    ("hasOwnProperty", "hasownproperty"),
    ("echo", "echo"),
    ("echo", "echo-1"),
    ("echo 1", "echo-1-1"),
    ("echo-1", "echo-1-2"),
    ("echo", "echo-2"),
    ("foxtrot-1", "foxtrot-1"),
    ("foxtrot", "foxtrot"),
    ("foxtrot", "foxtrot-2"),
    ("heading with a - dash", "heading-with-a---dash"),
    ("heading with an _ underscore", "heading-with-an-_-underscore"),
    ("heading with a period.txt", "heading-with-a-periodtxt"),
    ("exchange.bind_headers(exchange, routing [, bindCallback])", "exchangebind_headersexchange-routing--bindcallback"),
    (" a ", "-a-"),
    ("-a-", "-a--1"),
    ("apostrophe’s should be trimmed", "apostrophes-should-be-trimmed"),
    ("I ♥ unicode", "i--unicode"),
    ("en–dash", "endash"),
    ("😄 unicode emoji", "-unicode-emoji"),
    ("😄_😄 unicode emoji", "_-unicode-emoji"),
    (":ok_hand: Single", "ok_hand-single"),
    ("Привет non-latin 你好", "привет-non-latin-你好"),
]


def test_numbers_repeats_the_way_github_slugger_does():
    slugger = Slugger()
    assert [slugger.slug(text) for text, _ in GITHUB_SLUGGER_SEQUENCE] == [
        expected for _, expected in GITHUB_SLUGGER_SEQUENCE
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello World", "hello-world"),
        ("What's new in v2.0?", "whats-new-in-v20"),
        ("Ⓐ circled letters stay", "ⓐ-circled-letters-stay"),
        ("a\u2028line separator", "aline-separator"),
        ("tab\there", "tabhere"),
    ],
)
def test_strips_punctuation_and_symbols(text, expected):
    assert slug(text) == expected


def test_can_keep_case():
    assert slug("Keep Case", maintain_case=True) == "Keep-Case"


def test_each_slugger_counts_on_its_own():
    first, second = Slugger(), Slugger()
    assert first.slug("Setup") == "setup"
    assert second.slug("Setup") == "setup"
