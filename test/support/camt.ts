/** A minimal camt.053 statement, as a bank would send it, for end-to-end tests of what the bank booked. */

export interface CamtCredit {
  /** Minor units, 2-decimal currencies only (tests use EUR/USD). */
  amountMinor: number;
  currency: string;
  bookingDate: string;
  remittance: string;
  counterparty: string;
  reference: string;
}

const xmlText = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

export function camt053(statementId: string, iban: string, credits: CamtCredit[]): string {
  const entries = credits.map(
    (credit) => `
      <Ntry>
        <Amt Ccy="${credit.currency}">${(credit.amountMinor / 100).toFixed(2)}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>${credit.bookingDate}</Dt></BookgDt>
        <ValDt><Dt>${credit.bookingDate}</Dt></ValDt>
        <AcctSvcrRef>${xmlText(credit.reference)}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><AcctSvcrRef>${xmlText(credit.reference)}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <RltdPties><Dbtr><Nm>${xmlText(credit.counterparty)}</Nm></Dbtr></RltdPties>
          <RmtInf><Ustrd>${xmlText(credit.remittance)}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>${xmlText(statementId)}</MsgId><CreDtTm>2026-11-23T06:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>${xmlText(statementId)}</Id>
      <CreDtTm>2026-11-23T06:00:00</CreDtTm>
      <Acct><Id><IBAN>${iban}</IBAN></Id><Svcr><FinInstnId><BIC>COBADEFFXXX</BIC></FinInstnId></Svcr></Acct>${entries.join("")}
    </Stmt>
  </BkToCstmrStmt>
</Document>
`;
}
