"""`streamlit run ui/app.py`: the policykb UI (all logic lives in `policykb.ui`)."""

from policykb.ui.app import main

main()
