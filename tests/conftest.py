"""Shared pytest options."""


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden images (tests/**/golden/*.png) instead of comparing; review them "
        "before committing (FACESCULPT_UPDATE_GOLDEN=1 does the same)",
    )
