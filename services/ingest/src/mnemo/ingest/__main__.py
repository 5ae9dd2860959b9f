from mnemo.host import run
from mnemo.ingest.bootstrap import main

run(main)
