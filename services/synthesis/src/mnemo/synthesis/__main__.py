from mnemo.host import run
from mnemo.synthesis.bootstrap import main

run(main)
