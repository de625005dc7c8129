"""`streamlit run ui/app.py`: the policykb UI (all logic lives in `policykb.ui`), and the documents it
links to, streamed through the same server; each browser session runs `streamlit_app.py`."""

from pathlib import Path

import streamlit as st

from policykb.ui.app import lifespan, routes

app = st.App(Path(__file__).with_name("streamlit_app.py"), routes=routes(), lifespan=lifespan)
