import { Body, Controller, Get, Headers, Param, ParseIntPipe, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { DomainError, FixedLimits, RpcSubjects, SLUG_PATTERN, type Actor } from '@hms/contracts';
import type { FastifyReply } from 'fastify';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';
import { schemaRef } from '../openapi/schemas';

const YAML_TYPES = /^(application|text)\/(x-)?yaml/i;

@ApiTags('plans')
@ApiBearerAuth()
@Controller('v1/plans')
@AllowRoles('service')
export class PlansController {
  constructor(private readonly rpc: RpcGateway) {}

  @Post()
  @AllowRoles()
  @ApiOperation({
    summary: 'Register a plan (JSON, or YAML with Content-Type: application/yaml)',
    description: 'Plans in a seed dialect (lanes/sequence, task steps, job files) are translated to the canonical form first (docs/plans.md "Dialects").',
  })
  @ApiConsumes('application/json', 'application/yaml')
  @ApiQuery({
    name: 'id',
    required: false,
    description: 'The plan id, for a plan file that has none; must equal the file\'s id when both are given',
    schema: { type: 'string', pattern: SLUG_PATTERN.source, maxLength: FixedLimits.idLength },
  })
  @ApiBody({ schema: schemaRef('PlanDefinition') })
  @ApiAnswer(201, 'PlanRegistered', 'A new plan or version: {id, version}', { setStatus: false })
  @ApiAnswer(200, 'PlanRegistered', 'Identical content was registered before: the existing {id, version}', { setStatus: false })
  async register(
    @Body() body: unknown,
    @Query() query: Record<string, unknown>,
    @Headers('content-type') contentType: string | undefined,
    @CurrentActor() actor: Actor,
    @Res({ passthrough: true }) response: FastifyReply,
  ) {
    const isYaml = YAML_TYPES.test(contentType ?? '');
    if (isYaml ? typeof body !== 'string' || body.trim() === '' : typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new DomainError('VALIDATION_FAILED', isYaml ? 'The YAML body is empty' : 'The plan must be a JSON object (or YAML with Content-Type: application/yaml)');
    }
    const { id, ...unknownFields } = query;
    const unknownKeys = Object.keys(unknownFields);
    if (unknownKeys.length > 0) {
      throw new DomainError('VALIDATION_FAILED', 'Unknown query parameter', unknownKeys.map((key) => ({ path: key, message: `unknown query parameter '${key}' (allowed: id)` })));
    }
    const source = isYaml ? { yaml: body as string } : { definition: body as Record<string, unknown> };
    const result = await this.rpc.call(RpcSubjects.planRegister, id === undefined ? source : { ...source, id: id as string }, actor);
    response.status(result.created ? 201 : 200);
    return { id: result.id, version: result.version };
  }

  @Get()
  @ApiOperation({ summary: 'List plans (latest version of each)' })
  @ApiAnswer(200, 'PlanList')
  list(@CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.planList, {}, actor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'The latest version of a plan' })
  @ApiAnswer(200, 'PlanView')
  get(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.planGet, { id }, actor);
  }

  @Get(':id/versions/:version')
  @ApiOperation({ summary: 'One version of a plan' })
  @ApiAnswer(200, 'PlanView')
  getVersion(
    @Param('id') id: string,
    @Param('version', new ParseIntPipe({ exceptionFactory: () => new DomainError('VALIDATION_FAILED', 'version must be a whole number') })) version: number,
    @CurrentActor() actor: Actor,
  ) {
    return this.rpc.call(RpcSubjects.planGet, { id, version }, actor);
  }
}
