/** A side-by-side line diff (policy sources, audit before/after). */
import type { ReactNode } from 'react';
import type { DiffRow } from '../policies/policy.model.js';

export function DiffTable(props: { rows: readonly DiffRow[]; left: string; right: string; testId?: string }): ReactNode {
  return (
    <table className="diff" data-testid={props.testId}>
      <colgroup>
        <col className="c-ln" />
        <col />
        <col className="c-ln" />
        <col />
      </colgroup>
      <thead>
        <tr>
          <th colSpan={2}>{props.left}</th>
          <th colSpan={2}>{props.right}</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r, i) => {
          switch (r.kind) {
            case 'same':
              return (
                <tr key={i}>
                  <td className="ln">{r.left}</td>
                  <td className="tx">{r.text}</td>
                  <td className="ln">{r.right}</td>
                  <td className="tx">{r.text}</td>
                </tr>
              );
            case 'removed':
              return (
                <tr key={i} className="removed">
                  <td className="ln">{r.left}</td>
                  <td className="tx del">{r.text}</td>
                  <td className="ln" />
                  <td className="tx empty" />
                </tr>
              );
            case 'added':
              return (
                <tr key={i} className="added">
                  <td className="ln" />
                  <td className="tx empty" />
                  <td className="ln">{r.right}</td>
                  <td className="tx ins">{r.text}</td>
                </tr>
              );
            case 'changed':
              return (
                <tr key={i} className="changed">
                  <td className="ln">{r.left}</td>
                  <td className="tx del">{r.before}</td>
                  <td className="ln">{r.right}</td>
                  <td className="tx ins">{r.after}</td>
                </tr>
              );
          }
        })}
      </tbody>
    </table>
  );
}
