FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY vaultfront ./vaultfront
COPY policies ./policies
COPY templates ./templates
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8000
CMD ["vaultfront", "serve", "--host", "0.0.0.0", "--port", "8000"]
