from mnemo.audit.bootstrap import main
from mnemo.host import run

run(main)
