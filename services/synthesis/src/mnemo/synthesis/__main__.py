import sys

from mnemo.host import run
from mnemo.synthesis.bootstrap import main, rebuild

run(rebuild if sys.argv[1:2] == ["rebuild"] else main)
