# Helpers shared by the benchmark scripts (sourced, not run).
PY=/usr/bin/python3
# A free TCP port on 127.0.0.1.
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# num EXPR FORMAT: the arithmetic expression formatted with Python's format spec.
num() { "$PY" -c "import sys; print(format(eval(sys.argv[1]), sys.argv[2]))" "$1" "$2"; }
