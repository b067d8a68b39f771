# The one-click image: the page and the REST API of `python app.py`, on the embedded model, port 7860.
#   docker build -t ai-ner-service . && docker run --rm -p 7860:7860 ai-ner-service
# tests/test_docker.py runs this file's RUN and CMD commands in a fresh virtual environment.

# Stage 1: the project as a wheel, with the compiled CRF decoder (ner._crfkernel); the C compiler stays here
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY pyproject.toml setup.py README.md ./
COPY models ./models
COPY ner ./ner
COPY ner_app ./ner_app
RUN pip wheel --no-deps --wheel-dir dist .

# Stage 2: the image
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860

RUN useradd --create-home --uid 10001 app
WORKDIR /srv/ner

# dependencies first: this layer stays cached while only the code changes
COPY requirements.txt ./
RUN pip install -r requirements.txt

# the project (code, embedded model, compiled decoder) into site-packages, owned by root and read-only to the
# service user, which writes only to /tmp and its home (~/.cache/ner); the build fails if the decoder is not "c"
COPY --from=build /build/dist ./dist
RUN pip install --no-deps dist/*.whl && rm -rf dist && python -c "import ner.crf, sys; sys.exit(ner.crf.KERNEL != 'c')"
COPY app.py ./
COPY assets ./assets

USER app
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GRADIO_SERVER_PORT', '7860'), timeout=4)"
CMD ["python", "app.py"]
