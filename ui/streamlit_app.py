"""The script each browser session of the UI runs (`ui/app.py` serves it)."""

from policykb.ui.app import main

main()
