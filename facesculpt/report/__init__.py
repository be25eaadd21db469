"""The offline HTML report of a result folder, with an interactive three.js viewer of the head."""
from facesculpt.report.html import (
    ASSETS_DIR,
    find_result_folders,
    is_result_folder,
    write_assets,
    write_clip_report,
    write_index,
    write_report,
)

__all__ = ["write_report", "write_clip_report", "write_assets", "write_index", "find_result_folders",
           "is_result_folder", "ASSETS_DIR"]
