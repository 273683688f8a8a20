import { lazy, Suspense, useState } from 'react';
import { api, type Deployment, type Json, type JsonObject } from '../api';
import { ErrorMessage, Loading } from '../components/common';
import { formatTime } from '../format';
import { announceChange, usePolled } from '../live';
import { navigate, useTitle } from '../router';

const SchemaForm = lazy(() => import('../components/SchemaForm'));

const EMPTY_SCHEMA: JsonObject = { type: 'object', properties: {} };

function RunnerStatus({ deployment }: { deployment: Deployment }) {
  const polled = deployment.last_polled;
  if (deployment.runner_online) {
    return (
      <span className="runner runner-online" data-testid="runner-status" title={polled ? `last polled ${formatTime(polled)}` : undefined}>
        runner online
      </span>
    );
  }
  return (
    <span className="runner runner-offline" data-testid="runner-status">
      {polled ? `no runner since ${formatTime(polled)}` : 'no runner has served it yet'}
    </span>
  );
}

function DeploymentCard({ deployment }: { deployment: Deployment }) {
  const [open, setOpen] = useState(false);
  const formId = `run-${deployment.id}`;
  const run = async (parameters: Json) => {
    const created = await api.runDeployment(deployment.full_name, (parameters ?? {}) as JsonObject);
    announceChange();
    navigate(`/runs/${created.id}`);
  };
  const schema = deployment.parameter_schema ?? EMPTY_SCHEMA;
  return (
    <li className="card deployment" data-deployment={deployment.full_name}>
      <header className="card-header">
        <div>
          <h2>{deployment.full_name}</h2>
          <p className="muted">
            <RunnerStatus deployment={deployment} /> · <code>{deployment.entrypoint}</code>
          </p>
        </div>
        <button
          type="button"
          className={open ? 'btn' : 'btn btn-primary'}
          aria-expanded={open}
          aria-controls={formId}
          onClick={() => setOpen(!open)}
        >
          {open ? 'Cancel' : 'Run'}
        </button>
      </header>
      {open && (
        <div id={formId} className="deployment-form">
          <Suspense fallback={<Loading what="Loading form" />}>
            <SchemaForm
              schema={schema}
              submitText="Run deployment"
              locPrefix="parameters"
              idPrefix={`dep-${deployment.id.slice(0, 8)}`}
              onSubmit={run}
            />
          </Suspense>
        </div>
      )}
    </li>
  );
}

export default function Deployments() {
  useTitle('Deployments');
  const { data, error } = usePolled((signal) => api.deployments(signal), 'deployments', 5000);
  return (
    <div className="page">
      <h1>Deployments</h1>
      <ErrorMessage error={error} />
      {!data ? (
        !error && <Loading what="Loading deployments" />
      ) : data.length === 0 ? (
        <p className="empty">
          No deployments yet. Serve one with <code>my_flow.serve(name="...")</code>.
        </p>
      ) : (
        <ul className="cards">
          {data.map((deployment) => (
            <DeploymentCard key={deployment.id} deployment={deployment} />
          ))}
        </ul>
      )}
    </div>
  );
}
