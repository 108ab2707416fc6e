// Sends a known set of GenAI telemetry through the OpenTelemetry JS SDK and its OTLP/HTTP
// exporters (@opentelemetry/exporter-{trace,logs,metrics}-otlp-http), which send OTLP/JSON.
//
// Usage: node send.mjs --endpoint http://HOST:PORT --conversation-id ID
//                      [--chats N] [--tools M] [--logs L] --manifest OUT.json
//
// Same plan as send.py: one conversation (`gen_ai.conversation.id` on the resource and on every
// span, log record and data point); 1 `invoke_agent` span parenting N `chat` spans (with token
// usage) and M `execute_tool` spans; L log records; metric data points: token usage (input,
// output), operation duration (1) and one tool counter point per tool (M). Each exporter's
// `export` is wrapped to count what the SDK handed it and what it answered; the sender fails
// unless every export succeeded with the planned counts, then writes a manifest for check.py.
//
// Run from the directory where `npm ci` installed node_modules (scripts/sdk-e2e copies it there).

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { SpanKind, context, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const { values: a } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    'conversation-id': { type: 'string' },
    chats: { type: 'string', default: '3' },
    tools: { type: 'string', default: '2' },
    logs: { type: 'string', default: '4' },
    manifest: { type: 'string' },
  },
});
for (const k of ['endpoint', 'conversation-id', 'manifest']) {
  if (!a[k]) {
    console.error(`send.mjs: --${k} is required`);
    process.exit(2);
  }
}
const CONV = 'gen_ai.conversation.id';
const conv = a['conversation-id'];
const chats = Number(a.chats);
const tools = Number(a.tools);
const logs = Number(a.logs);
const name = 'node-http_json';
const base = a.endpoint.replace(/\/+$/, '');

// Counts what an exporter was handed and what it answered (ExportResultCode.SUCCESS is 0).
function tally(exporter, count) {
  const t = { records: 0, calls: 0, failures: [] };
  const inner = exporter.export.bind(exporter);
  exporter.export = (items, done) => {
    inner(items, (result) => {
      t.calls += 1;
      t.records += count(items);
      if (result.code !== 0) t.failures.push(String(result.error ?? result.code));
      done(result);
    });
  };
  return t;
}
const metricPoints = (rm) =>
  rm.scopeMetrics.reduce((n, sm) => n + sm.metrics.reduce((m, md) => m + md.dataPoints.length, 0), 0);

const resource = resourceFromAttributes({
  'service.name': 'sdk-e2e-node',
  'service.version': '0.0.0',
  [CONV]: conv,
});
const spanExp = new OTLPTraceExporter({ url: `${base}/v1/traces`, timeoutMillis: 10000 });
const logExp = new OTLPLogExporter({ url: `${base}/v1/logs`, timeoutMillis: 10000 });
const metricExp = new OTLPMetricExporter({ url: `${base}/v1/metrics`, timeoutMillis: 10000 });
const spansSent = tally(spanExp, (xs) => xs.length);
const logsSent = tally(logExp, (xs) => xs.length);
const pointsSent = tally(metricExp, metricPoints);

const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(spanExp)] });
const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: logExp })] });
// One export, at shutdown: the interval is never reached by a sender that runs for a second.
const meterProvider = new MeterProvider({
  resource,
  readers: [new PeriodicExportingMetricReader({ exporter: metricExp, exportIntervalMillis: 3_600_000 })],
});

const tracer = tracerProvider.getTracer('sdk-e2e');
const logger = loggerProvider.getLogger('sdk-e2e');
const meter = meterProvider.getMeter('sdk-e2e');
const tokenUsage = meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}' });
const duration = meter.createHistogram('gen_ai.client.operation.duration', { unit: 's' });
const toolInvocations = meter.createCounter('sdk_e2e.tool.invocations', { unit: '{call}' });

const model = 'sdk-e2e-model';
let tokensIn = 0;
let tokensOut = 0;
const turn = tracer.startSpan(`invoke_agent ${name}`, {
  kind: SpanKind.INTERNAL,
  attributes: { [CONV]: conv, 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': name },
});
// No context manager is registered: children get their parent through an explicit context.
const ctx = trace.setSpan(context.active(), turn);
for (let i = 0; i < chats; i++) {
  const tIn = 100 * (i + 1);
  const tOut = 10 * (i + 1);
  tokensIn += tIn;
  tokensOut += tOut;
  tracer
    .startSpan(
      `chat ${model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [CONV]: conv,
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': model,
          'gen_ai.response.model': model,
          'gen_ai.response.id': `${conv}-resp-${i}`,
          'gen_ai.usage.input_tokens': tIn,
          'gen_ai.usage.output_tokens': tOut,
        },
      },
      ctx,
    )
    .end();
  const common = { [CONV]: conv, 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': model };
  tokenUsage.record(tIn, { ...common, 'gen_ai.token.type': 'input' });
  tokenUsage.record(tOut, { ...common, 'gen_ai.token.type': 'output' });
  duration.record(0.25 * (i + 1), common);
}
for (let j = 0; j < tools; j++) {
  const tool = `sdk_e2e_tool_${j}`;
  tracer
    .startSpan(
      `execute_tool ${tool}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [CONV]: conv,
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': tool,
          'gen_ai.tool.call.id': `${conv}-call-${j}`,
          'gen_ai.tool.type': 'function',
        },
      },
      ctx,
    )
    .end();
  toolInvocations.add(1, { [CONV]: conv, 'gen_ai.tool.name': tool });
}
for (let k = 0; k < logs; k++) {
  logger.emit({
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: `sdk-e2e ${name} log record ${k}`,
    attributes: { [CONV]: conv, 'sdk_e2e.index': k },
    context: ctx,
  });
}
turn.end();

// Shutdown flushes each pipeline; metrics are collected and exported once, here.
await tracerProvider.forceFlush();
await loggerProvider.forceFlush();
await tracerProvider.shutdown();
await loggerProvider.shutdown();
await meterProvider.shutdown();

const planned = { traces: 1 + chats + tools, logs, metrics: 3 + tools };
const sent = { traces: spansSent.records, logs: logsSent.records, metrics: pointsSent.records };
const failures = Object.fromEntries(
  [['traces', spansSent], ['logs', logsSent], ['metrics', pointsSent]]
    .filter(([, t]) => t.failures.length)
    .map(([k, t]) => [k, t.failures]),
);
if (Object.keys(failures).length) {
  console.error(`send.mjs [${name}]: the exporter reported failed exports: ${JSON.stringify(failures)}`);
  process.exit(1);
}
if (JSON.stringify(sent) !== JSON.stringify(planned)) {
  console.error(`send.mjs [${name}]: exporters were handed ${JSON.stringify(sent)}, planned ${JSON.stringify(planned)}`);
  process.exit(1);
}
const manifest = {
  sender: name,
  sdk: 'opentelemetry-js',
  protocol: 'http_json',
  conversation_id: conv,
  sent,
  exports: { traces: spansSent.calls, logs: logsSent.calls, metrics: pointsSent.calls },
  session: { turns: 1, api_requests: chats, tool_calls: tools, tool_errors: 0, api_errors: 0 },
  tokens: { input: tokensIn, output: tokensOut },
};
writeFileSync(a.manifest, JSON.stringify(manifest, null, 1));
console.log(
  `${name}: sent ${sent.traces} spans, ${sent.logs} log records, ${sent.metrics} metric data points (conversation ${conv})`,
);
