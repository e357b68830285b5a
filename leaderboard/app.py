"""The TheoryBench leaderboard: `streamlit run leaderboard/app.py` or `theorybench leaderboard --serve`.

The store URL comes from THEORYBENCH_STORE, else the default SQLite file `theorybench.db` in the
working directory. The pages only read the store; they never import or run implementation code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

APP_FOLDER = Path(__file__).resolve().parent
if str(APP_FOLDER) not in sys.path:
    # The pages import leaderboard_data and leaderboard_charts from this folder.
    sys.path.insert(0, str(APP_FOLDER))

st.set_page_config(page_title="TheoryBench leaderboard", layout="wide")

PAGES = [
    st.Page("app_pages/overview.py", title="Overview", default=True),
    st.Page("app_pages/suite.py", title="Suite leaderboard"),
    st.Page("app_pages/task.py", title="Task detail"),
    st.Page("app_pages/implementation.py", title="Implementation"),
    st.Page("app_pages/compare.py", title="Compare"),
    st.Page("app_pages/submissions.py", title="Submissions"),
]

page = st.navigation(PAGES)
page.run()
