"""`python -m jiban.bench --help`."""

from jiban.bench.run import main

if __name__ == "__main__":
    main()
