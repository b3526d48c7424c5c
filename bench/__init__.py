"""Benchmarks: scripts that serve the real app and print the speed figures the README quotes."""

# The response header naming the gunicorn worker that answered /bench/bare (bench/urls.py), so a
# benchmark can spread its keep-alive connections evenly over the workers.
WORKER_HEADER = "X-Bench-Worker"
