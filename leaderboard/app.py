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
    st.Page("pages/overview.py", title="Overview", url_path="overview", default=True),
    st.Page("pages/suite.py", title="Suite leaderboard", url_path="suite"),
    st.Page("pages/task.py", title="Task detail", url_path="task"),
    st.Page("pages/implementation.py", title="Implementation", url_path="implementation"),
    st.Page("pages/compare.py", title="Compare", url_path="compare"),
    st.Page("pages/submissions.py", title="Submissions", url_path="submissions"),
]

page = st.navigation(PAGES)
page.run()
