import sys

from mnemo.audit.bootstrap import main, rebuild
from mnemo.host import run

run(rebuild if sys.argv[1:2] == ["rebuild"] else main)
