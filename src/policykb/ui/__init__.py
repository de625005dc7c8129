"""The Streamlit UI of policykb: a client of the HTTP API (`ui/app.py` runs `policykb.ui.app.main`)."""
